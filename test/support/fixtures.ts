/**
 * The GeoIP fixture every HTTP and service test shares: a real GeoIP2-City database (IPv6 tree with
 * IPv4 and IPv6 networks and ISO 3166-2 subdivisions), written at test time by our mmdb writer. The
 * addresses are public unicast ranges, since private and reserved ones never reach a lookup (I2).
 */
import { cityRecord, countryRecord, writeMmdb } from "./mmdb-writer.js";

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
