/**
 * The fixtures the whole suite shares: the test clock, a valid order input and decision record, and the
 * GeoIP database: a real GeoIP2-City database (IPv6 tree with IPv4 and IPv6 networks and ISO 3166-2
 * subdivisions), written at test time by our mmdb writer. The addresses are public unicast ranges, since
 * private and reserved ones never reach a lookup (I2). Imports nothing of either runtime: the workerd
 * tests use it too.
 */
import type { DecisionRecord } from "../../src/engine/index.js";
import { cityRecord, countryRecord, ipLocationDbRecord, writeMmdb } from "./mmdb-writer.js";

export const HOUR = 3_600_000;
export const DAY = 86_400_000;

/** The clock the route harness and both runtimes' check-route targets start at. */
export const T0 = Date.parse("2026-03-01T00:00:00Z");
/** Noon that day: the clock the engine and ruleset tests judge orders against. */
export const NOON = Date.parse("2026-03-01T12:00:00Z");

export const iso = (ms: number): string => new Date(ms).toISOString();

/** The authority of the store tests' orders (their audit entries were written with this name). */
export const COURT = { name: "Court", jurisdiction: "IN", kind: "court" } as const;

/** A valid order input (the API's, and the import line's core); override any field. */
export function orderInput(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    reference: "WP/1234/2026",
    authority: { name: "Bombay High Court", jurisdiction: "IN", kind: "court" },
    jurisdictions: ["IN-MH"],
    target: { kind: "meeting", meetingIds: ["81234567890"] },
    receivedAt: "2026-02-20T09:00:00Z",
    ...overrides,
  };
}

/** A valid decision record, with an id of its own: a participant in Mumbai denied; override any field. */
export function decisionRecord(overrides: Partial<DecisionRecord> = {}): DecisionRecord {
  return {
    decisionId: crypto.randomUUID(),
    at: "2026-03-01T10:00:00.000Z",
    meetingId: "81234567890",
    decision: "deny",
    code: "BLOCKED",
    orderIds: ["ord_x"],
    jurisdiction: "IN-MH",
    country: "IN",
    subdivision: "IN-MH",
    ipPrefix: "49.32.10.0/24",
    ipHash: "a".repeat(64),
    rulesetVersion: 3,
    geoSource: "cf",
    geoDbVersion: null,
    ...overrides,
  };
}

/** Known participants: address -> where the fixture database places them. */
export const PLACES = {
  mumbai: { ip: "49.32.10.20", country: "IN", subdivisions: ["IN-MH"] },
  bengaluru: { ip: "49.33.10.20", country: "IN", subdivisions: ["IN-KA"] },
  indiaUnknownRegion: { ip: "49.34.10.20", country: "IN", subdivisions: [] },
  moscow: { ip: "5.8.10.20", country: "RU", subdivisions: ["RU-MOW"] },
  moscowV6: { ip: "2a02:6b8:0:1::20", country: "RU", subdivisions: ["RU-MOW"] },
  amsterdam: { ip: "2.56.10.20", country: "NL", subdivisions: ["NL-NH"] },
  kent: { ip: "81.2.69.160", country: "GB", subdivisions: ["GB-ENG", "GB-KEN"] },
  california: { ip: "8.8.8.8", country: "US", subdivisions: ["US-CA"] },
  californiaV6: { ip: "2001:4860:4860::8888", country: "US", subdivisions: ["US-CA"] },
  /** In no network of the fixture. */
  nowhere: { ip: "100.0.0.1", country: null, subdivisions: [] },
  /** Private: never looked up. */
  privateLan: { ip: "192.168.1.10", country: null, subdivisions: [] },
} as const;

export const CITY_BUILD_EPOCH = Date.UTC(2026, 10, 24) / 1000;

export function cityDatabase(): Buffer {
  return writeMmdb({
    databaseType: "GeoIP2-City",
    ipVersion: 6,
    buildEpoch: CITY_BUILD_EPOCH,
    networks: [
      { cidr: "49.32.0.0/16", data: cityRecord({ country: "IN", subdivisions: ["IN-MH"], city: "Mumbai" }) },
      {
        cidr: "49.33.0.0/16",
        data: cityRecord({ country: "IN", subdivisions: ["IN-KA"], city: "Bengaluru" }),
      },
      { cidr: "49.34.0.0/16", data: cityRecord({ country: "IN" }) },
      { cidr: "5.8.0.0/16", data: cityRecord({ country: "RU", subdivisions: ["RU-MOW"], city: "Moscow" }) },
      {
        cidr: "2a02:6b8::/32",
        data: cityRecord({ country: "RU", subdivisions: ["RU-MOW"], city: "Moscow" }),
      },
      {
        cidr: "2.56.0.0/16",
        data: cityRecord({ country: "NL", subdivisions: ["NL-NH"], city: "Amsterdam" }),
      },
      {
        cidr: "81.2.69.0/24",
        data: cityRecord({ country: "GB", subdivisions: ["GB-ENG", "GB-KEN"], city: "Canterbury" }),
      },
      {
        cidr: "8.8.8.0/24",
        data: cityRecord({ country: "US", subdivisions: ["US-CA"], city: "Mountain View" }),
      },
      {
        cidr: "2001:4860::/32",
        data: cityRecord({ country: "US", subdivisions: ["US-CA"], city: "Mountain View" }),
      },
    ],
  });
}

/** The same places in a country-only database: subdivision orders must fail open against it (I2). */
export function countryDatabase(): Buffer {
  return writeMmdb({
    databaseType: "GeoIP2-Country",
    ipVersion: 6,
    buildEpoch: CITY_BUILD_EPOCH,
    networks: [
      { cidr: "49.32.0.0/14", data: countryRecord("IN") },
      { cidr: "5.8.0.0/16", data: countryRecord("RU") },
      { cidr: "2.56.0.0/16", data: countryRecord("NL") },
      { cidr: "8.8.8.0/24", data: countryRecord("US") },
    ],
  });
}

/**
 * A country-only database of the kind the Worker bundles (ip-location-db) placing 1.2.3.0/24, 5.6.0.0/16
 * and 2001:4860::/32 in `country`: two of them tell an old database from a new one. `padding` adds as
 * many /24s elsewhere (in SE), to make the file bigger.
 */
export function oneCountryDatabase(country: string, padding = 0): Buffer {
  const networks = ["1.2.3.0/24", "5.6.0.0/16", "2001:4860::/32"].map((cidr) => ({
    cidr,
    data: ipLocationDbRecord(country),
  }));
  for (let i = 0; i < padding; i++) {
    networks.push({ cidr: `20.${i >> 8}.${i & 255}.0/24`, data: ipLocationDbRecord("SE") });
  }
  return writeMmdb({ databaseType: "country ipvAll", ipVersion: 6, networks });
}
