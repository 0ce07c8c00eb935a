import { readFileSync } from "node:fs";
import { AddressNotFoundError, Reader as Geoip2Reader } from "@maxmind/geoip2-node";
import { Reader } from "maxmind";
import { describe, expect, it } from "vitest";
import { GeoLookupError } from "../../src/geo/interface.js";
import { parseIp } from "../../src/geo/ip.js";
import { MaxmindGeo } from "../../src/geo/maxmind-geo.js";
import { defaultDatabasePath } from "../../src/platform/node/geo-file.js";
import {
  cityRecord,
  countryRecord,
  ipLocationDbRecord,
  type MmdbNetwork,
  writeMmdb,
} from "../support/mmdb-writer.js";

const BUILD_EPOCH = Date.UTC(2026, 10, 24, 6, 30) / 1000; // 2026-11-24T06:30:00Z

const cityNetworks: MmdbNetwork[] = [
  { cidr: "1.2.3.0/24", data: cityRecord({ country: "IN", subdivisions: ["IN-MH"], city: "Mumbai" }) },
  {
    cidr: "81.2.69.0/24",
    data: cityRecord({ country: "GB", subdivisions: ["GB-ENG", "GB-KEN"], city: "Dover" }),
  },
  { cidr: "5.6.7.0/24", data: cityRecord({ country: "FR" }) },
  { cidr: "2a02:c7f:1234::/48", data: cityRecord({ country: "GB", subdivisions: ["GB-ENG", "GB-KEN"] }) },
  {
    cidr: "2001:4860::/32",
    data: cityRecord({ country: "US", subdivisions: ["US-CA"], city: "Mountain View" }),
  },
  // Located nowhere in particular: only where the network is registered. Not a location (I1).
  { cidr: "9.9.9.0/24", data: { registered_country: countryRecord("US").registered_country ?? {} } },
  // A smaller level without its parent's code would claim more than the data says.
  {
    cidr: "11.0.0.0/24",
    data: { country: { iso_code: "ES" }, subdivisions: [{ names: { en: "?" } }, { iso_code: "B" }] },
  },
  // In the database, but a private range: never looked up (I2).
  { cidr: "10.0.0.0/8", data: cityRecord({ country: "DE", subdivisions: ["DE-BY"] }) },
];

const cityDb = writeMmdb({
  databaseType: "GeoIP2-City",
  ipVersion: 6,
  buildEpoch: BUILD_EPOCH,
  networks: cityNetworks,
});

const countryDb = writeMmdb({
  databaseType: "GeoLite2-Country",
  ipVersion: 4,
  buildEpoch: BUILD_EPOCH,
  networks: [
    { cidr: "1.2.3.0/24", data: countryRecord("IN") },
    { cidr: "81.2.69.0/24", data: countryRecord("GB") },
  ],
});

const ipLocationDb = writeMmdb({
  databaseType: "country ipvAll",
  ipVersion: 6,
  buildEpoch: BUILD_EPOCH,
  // Like the bundled database: no ::ffff:0:0/96 alias, so only a normalised IPv4 address is found.
  aliasIpv4Mapped: false,
  languages: [],
  networks: [
    { cidr: "1.2.3.0/24", data: ipLocationDbRecord("NL") },
    { cidr: "2001:4860::/32", data: ipLocationDbRecord("US") },
  ],
});

/** Lookups take normalised addresses (the route calls parseIp first); so do these tests. */
function lookup(geo: MaxmindGeo, input: string) {
  const parsed = parseIp(input);
  if (parsed === null) throw new Error(`test input is not an address: ${input}`);
  return geo.lookup(parsed.ip);
}

describe("MaxmindGeo on a City database", () => {
  const geo = MaxmindGeo.fromBuffer(cityDb, "fixtures/city.mmdb");
  const located = (country: string, subdivisions: string[] = []) => ({
    location: { country, subdivisions },
    source: "mmdb",
    dbVersion: "GeoIP2-City@2026-11-24",
  });

  const table: [string, ReturnType<typeof located>][] = [
    ["1.2.3.4", located("IN", ["IN-MH"])],
    ["1.2.3.255", located("IN", ["IN-MH"])],
    ["::ffff:1.2.3.4", located("IN", ["IN-MH"])],
    ["81.2.69.160", located("GB", ["GB-ENG", "GB-KEN"])],
    ["5.6.7.8", located("FR")],
    ["2a02:c7f:1234:5678::1", located("GB", ["GB-ENG", "GB-KEN"])],
    ["2001:4860:4860::8888", located("US", ["US-CA"])],
    ["11.0.0.1", located("ES")],
  ];
  it.each(table)("locates %s", (ip, expected) => {
    expect(lookup(geo, ip)).toEqual(expected);
  });

  it("answers unknown, having asked the database, for an address it does not hold", () => {
    for (const ip of ["1.2.4.1", "8.8.8.8", "2a02:c7f:1235::1", "2600::1"]) {
      expect(lookup(geo, ip)).toEqual({
        location: null,
        source: "mmdb",
        dbVersion: "GeoIP2-City@2026-11-24",
      });
    }
  });

  it("answers unknown for a record with a registered country but no located country", () => {
    expect(new Reader(cityDb).get("9.9.9.9")).toHaveProperty("registered_country.iso_code", "US");
    expect(lookup(geo, "9.9.9.9").location).toBeNull();
  });

  it("answers unknown without a lookup for private and reserved addresses, even ones the database holds", () => {
    expect(new Reader(cityDb).get("10.1.2.3")).toHaveProperty("country.iso_code", "DE");
    for (const ip of [
      "10.1.2.3",
      "::ffff:10.1.2.3",
      "127.0.0.1",
      "192.168.0.1",
      "100.64.0.1",
      "::1",
      "fd00::1",
    ]) {
      expect(lookup(geo, ip)).toEqual({ location: null, source: "none", dbVersion: null });
    }
  });

  it("never throws on input that is not a normalised address", () => {
    for (const ip of ["", "garbage", "1.2.3", "01.2.3.4", "fe80::1%eth0", "1.2.3.4/24"]) {
      expect(geo.lookup(ip).location).toBeNull();
    }
  });

  it("reads subdivisions exactly as @maxmind/geoip2-node's City model does", () => {
    const model = Geoip2Reader.openBuffer(cityDb);
    for (const ip of ["1.2.3.4", "81.2.69.160", "5.6.7.8", "2a02:c7f:1234::1", "2001:4860::1"]) {
      const city = model.city(ip);
      const country = city.country?.isoCode as string;
      const subdivisions = (city.subdivisions ?? []).map((s) => `${country}-${s.isoCode}`);
      expect(lookup(geo, ip).location).toEqual({ country, subdivisions });
    }
    expect(() => model.city("1.2.4.1")).toThrow(AddressNotFoundError);
  });

  it("hands out immutable answers, shared by addresses with the same record", () => {
    const a = lookup(geo, "1.2.3.4");
    const b = lookup(geo, "1.2.3.5");
    expect(a).toBe(b);
    expect(Object.isFrozen(a)).toBe(true);
    expect(Object.isFrozen(a.location)).toBe(true);
    expect(Object.isFrozen(a.location?.subdivisions)).toBe(true);
  });

  it("describes itself", () => {
    expect(geo.info()).toEqual({
      databaseType: "GeoIP2-City",
      buildDate: "2026-11-24T06:30:00.000Z",
      subdivisions: true,
      ipVersion: 6,
      source: "fixtures/city.mmdb",
    });
    expect(geo.dbVersion).toBe("GeoIP2-City@2026-11-24");
  });

  it("reads an IPv4-only City database too", () => {
    const v4 = MaxmindGeo.fromBuffer(
      writeMmdb({
        databaseType: "GeoLite2-City",
        ipVersion: 4,
        buildEpoch: BUILD_EPOCH,
        networks: cityNetworks.slice(0, 3),
      }),
      "v4",
    );
    expect(lookup(v4, "81.2.69.1").location).toEqual({ country: "GB", subdivisions: ["GB-ENG", "GB-KEN"] });
    expect(v4.info()).toMatchObject({ databaseType: "GeoLite2-City", ipVersion: 4, subdivisions: true });
  });

  it("treats GeoIP2 Enterprise as a City database", () => {
    const enterprise = MaxmindGeo.fromBuffer(
      writeMmdb({ databaseType: "GeoIP2-Enterprise", ipVersion: 6, networks: cityNetworks.slice(0, 2) }),
      "enterprise",
    );
    expect(lookup(enterprise, "1.2.3.4").location).toEqual({ country: "IN", subdivisions: ["IN-MH"] });
    expect(enterprise.info().subdivisions).toBe(true);
  });
});

describe("MaxmindGeo on a Country database", () => {
  const geo = MaxmindGeo.fromBuffer(countryDb, "fixtures/country.mmdb");

  it("locates to the country, with no subdivisions", () => {
    expect(lookup(geo, "1.2.3.4")).toEqual({
      location: { country: "IN", subdivisions: [] },
      source: "mmdb",
      dbVersion: "GeoLite2-Country@2026-11-24",
    });
    expect(lookup(geo, "::ffff:81.2.69.1").location).toEqual({ country: "GB", subdivisions: [] });
  });

  it("answers unknown for IPv6 in an IPv4-only database rather than walking the tree with it", () => {
    expect(lookup(geo, "2001:4860::1").location).toBeNull();
  });

  it("says it carries no subdivisions", () => {
    expect(geo.info()).toEqual({
      databaseType: "GeoLite2-Country",
      buildDate: "2026-11-24T06:30:00.000Z",
      subdivisions: false,
      ipVersion: 4,
      source: "fixtures/country.mmdb",
    });
  });
});

describe("MaxmindGeo on an ip-location-db database", () => {
  const geo = MaxmindGeo.fromBuffer(ipLocationDb, "fixtures/ip-location-db.mmdb");

  it("reads country_code records, IPv4 and IPv6", () => {
    expect(lookup(geo, "1.2.3.4").location).toEqual({ country: "NL", subdivisions: [] });
    expect(lookup(geo, "2001:4860:4860::8888").location).toEqual({ country: "US", subdivisions: [] });
  });

  it("finds IPv4-mapped addresses through normalisation, though the tree has no ::ffff:0:0/96 alias", () => {
    expect(lookup(geo, "::ffff:1.2.3.4").location).toEqual({ country: "NL", subdivisions: [] });
    expect(new Reader(ipLocationDb).get("::ffff:1.2.3.4")).toBeNull();
  });

  it("uses an identifier without spaces as its version", () => {
    expect(geo.dbVersion).toBe("country-ipvAll@2026-11-24");
    expect(geo.info()).toMatchObject({ databaseType: "country ipvAll", subdivisions: false, ipVersion: 6 });
  });

  it("reads country.iso_code records of other GeoIP2-compatible vendors, countries only", () => {
    const dbip = MaxmindGeo.fromBuffer(
      writeMmdb({
        databaseType: "DBIP-City-Lite",
        ipVersion: 6,
        networks: [{ cidr: "1.2.3.0/24", data: cityRecord({ country: "IN", subdivisions: ["IN-MH"] }) }],
      }),
      "dbip",
    );
    expect(lookup(dbip, "1.2.3.4").location).toEqual({ country: "IN", subdivisions: [] });
    expect(dbip.info().subdivisions).toBe(false);
  });
});

describe("MaxmindGeo.fromBuffer", () => {
  it("refuses bytes that are not a MaxMind database", () => {
    expect(() => MaxmindGeo.fromBuffer(Buffer.from("not a database"), "junk")).toThrow(GeoLookupError);
    expect(() => MaxmindGeo.fromBuffer(Buffer.alloc(0), "empty")).toThrow(GeoLookupError);
  });

  it("refuses a truncated database", () => {
    expect(() => MaxmindGeo.fromBuffer(cityDb.subarray(0, cityDb.length - 40), "truncated")).toThrow(
      GeoLookupError,
    );
  });

  it("refuses a MaxMind database that carries no location", () => {
    const asn = writeMmdb({
      databaseType: "GeoLite2-ASN",
      ipVersion: 6,
      networks: [{ cidr: "1.2.3.0/24", data: { autonomous_system_number: 13335 } }],
    });
    expect(() => MaxmindGeo.fromBuffer(asn, "asn")).toThrow(/carries no location/);
  });

  it("accepts a plain Uint8Array (as a Worker's bundled module gives)", () => {
    const bytes = new Uint8Array(countryDb.byteLength);
    bytes.set(countryDb);
    expect(lookup(MaxmindGeo.fromBuffer(bytes, "u8"), "1.2.3.4").location?.country).toBe("IN");
  });

  it("answers unknown, never throws, when a record is damaged", () => {
    const db = writeMmdb({
      databaseType: "GeoIP2-Country",
      ipVersion: 6,
      networks: [
        { cidr: "5.6.7.0/24", data: countryRecord("FR") },
        { cidr: "1.2.3.0/24", data: { country: { iso_code: "IN" } } },
      ],
    });
    // The first record sits at the start of the data section; make its type byte invalid.
    const dataStart = new Reader(db).metadata.searchTreeSize + 16;
    const damaged = Buffer.from(db);
    damaged[dataStart] = 0x00;
    damaged[dataStart + 1] = 0x00;
    const geo = MaxmindGeo.fromBuffer(damaged, "damaged");
    expect(() => new Reader(damaged).get("5.6.7.8")).toThrow();
    expect(lookup(geo, "5.6.7.8")).toEqual({ location: null, source: "mmdb", dbVersion: geo.dbVersion });
    expect(lookup(geo, "1.2.3.4").location).toEqual({ country: "IN", subdivisions: [] });
  });
});

describe("MaxmindGeo on the bundled GeoLite2 country database", () => {
  // @ip-location-db/geolite2-country-mmdb@2.3.2026061719 (package-lock.json): fixed data, fixed answers.
  const geo = MaxmindGeo.fromBuffer(readFileSync(defaultDatabasePath()), "bundled");
  const country = (ip: string) => lookup(geo, ip).location?.country ?? null;

  it("locates well-known addresses", () => {
    expect(country("8.8.8.8")).toBe("US");
    expect(country("2001:4860:4860::8888")).toBe("US");
    expect(country("::ffff:8.8.8.8")).toBe("US");
    // RIPE NCC, 193.0.0.0/21.
    expect(country("193.0.0.1")).toBe("NL");
    expect(country("193.0.6.139")).toBe("NL");
    expect(country("193.0.7.254")).toBe("NL");
  });

  it("does not know 1.1.1.1 (this data version has no country for Cloudflare's anycast /24)", () => {
    expect(lookup(geo, "1.1.1.1")).toEqual({ location: null, source: "mmdb", dbVersion: geo.dbVersion });
  });

  it("describes the bundled database", () => {
    expect(geo.info()).toEqual({
      databaseType: "country ipvAll",
      buildDate: "2026-06-17T19:53:26.000Z",
      subdivisions: false,
      ipVersion: 6,
      source: "bundled",
    });
    expect(geo.dbVersion).toBe("country-ipvAll@2026-06-17");
  });
});
