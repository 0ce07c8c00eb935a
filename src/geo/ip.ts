/**
 * IP addresses as Cordon accepts them: strict parsing to one canonical text form, which addresses can
 * have a location at all (I2), and the network prefix that decision records keep instead of the
 * address (I6). Pure: no `node:*`, so the Worker runs the same code.
 *
 * The parser is our own rather than `ipaddr.parse`, because that one is lenient in ways that matter
 * here: it reads `01.2.3.4` as octal-ish and `0x7f.1` as hex, accepts zone ids (`fe80::1%eth0`), groups
 * longer than four digits (`02001::`), and turns the IPv4-compatible `::8.8.8.8` into the IPv4-mapped
 * `::ffff:8.8.8.8`. Two spellings of one address must give one cache key, one hash and one answer.
 * ipaddr.js is used for what it is good at: the special-purpose range tables and RFC 5952 text.
 */
import ipaddr from "ipaddr.js";

export type IpVersion = 4 | 6;

export interface ParsedIp {
  /** Canonical text: dotted quad for IPv4 (IPv4-mapped IPv6 included), RFC 5952 for IPv6. */
  ip: string;
  version: IpVersion;
}

/** One decimal octet without leading zeros: `0`..`255`. */
const OCTET = "(?:25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)";
const IPV4 = new RegExp(`^${OCTET}\\.${OCTET}\\.${OCTET}\\.${OCTET}$`);
const HEX_GROUP = /^[0-9a-fA-F]{1,4}$/;
/** The longest valid text: `ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255` is 45 characters. */
const MAX_LENGTH = 45;

/**
 * Validates and normalises an address. Returns null for anything that is not exactly one address in
 * standard notation: no whitespace, zone ids, brackets, CIDR suffixes, or non-decimal and zero-padded
 * IPv4 octets (`01.2.3.4` would be octal to some parsers and decimal to others).
 * `::ffff:a.b.c.d` (and `::ffff:102:304`) become the IPv4 address: it is the same host.
 */
export function parseIp(input: string): ParsedIp | null {
  // Every check parses its address (cache hits included), so plain IPv4 skips building an object:
  // a dotted quad that passes the strict pattern is already canonical.
  if (typeof input === "string" && !input.includes(":")) {
    return IPV4.test(input) ? { ip: input, version: 4 } : null;
  }
  const address = parseAddress(input);
  if (address === null) return null;
  return { ip: address.toString(), version: address.kind() === "ipv4" ? 4 : 6 };
}

/**
 * Whether an address can be located by a geolocation database: true only for ipaddr.js's `unicast`,
 * the range left once every special-purpose block is taken out. Everything else is never looked up and
 * resolves to an unknown location, which I2 allows:
 * - IPv4: private (RFC 1918), loopback, link-local, CGNAT 100.64/10 (the carrier's, not the user's
 *   location), multicast, broadcast, 0/8, 240/4, TEST-NETs, benchmarking 198.18/15, AS112, AMT.
 * - IPv6: only global unicast 2000::/3 (what IANA allocates to registries), minus the special blocks
 *   inside it (2001::/23, 2001:db8::/32, 3fff::/20, ...). This also excludes ULA fc00::/7, link-local,
 *   multicast, NAT64 64:ff9b::/96 (a participant's source is never a NAT64 address as seen by us), and
 *   the deprecated IPv4-compatible ::/96.
 * - 6to4 (2002::/16) and Teredo (2001::/32) count as not public. Teredo addresses carry the relay
 *   server's IPv4, not the user's, so any answer would be the wrong place; 6to4 does embed the user's
 *   IPv4, but it is deprecated (RFC 7526), public relays are gone, and its traffic is negligible, so
 *   fail-open here costs nothing measurable and avoids a second lookup path.
 * Cost on the lookup path (each cache miss): ~0.7 µs for IPv4, ~2 µs for IPv6 (range() walks tables).
 */
export function isPublicIp(ip: string): boolean {
  const address = parseAddress(ip);
  if (address === null) return false;
  if (address.kind() === "ipv4") return address.range() === "unicast";
  // range() calls everything outside its tables "unicast", ::/96 and unallocated 4000::/2 included.
  const inGlobalUnicast = ((address as ipaddr.IPv6).parts[0] as number) >>> 13 === 0b001;
  return inGlobalUnicast && address.range() === "unicast";
}

/**
 * The network a decision record keeps instead of the address (I6): `203.0.113.0/24` for IPv4,
 * `2001:db8:1234::/48` for IPv6. 6to4 addresses get /40 instead: their bits 16-47 are the user's whole
 * IPv4 address, so a /48 would store the raw address; /40 keeps the same /24 as native IPv4.
 * Throws a TypeError on input `parseIp` rejects: callers validate first, so that is a bug.
 */
export function ipPrefix(ip: string): string {
  // The check hands in canonical dotted quads (`parseIp`'s output): the /24 is a slice, no object needed.
  if (IPV4.test(ip)) return `${ip.slice(0, ip.lastIndexOf("."))}.0/24`;
  const address = parseAddress(ip);
  if (address === null) throw new TypeError(`not an IP address: ${JSON.stringify(ip)}`);
  if (address.kind() === "ipv4") {
    const [a, b, c] = (address as ipaddr.IPv4).octets;
    return `${a}.${b}.${c}.0/24`;
  }
  const [p0, p1, p2] = (address as ipaddr.IPv6).parts as [number, number, number];
  if (p0 === 0x2002) {
    return `${new ipaddr.IPv6([p0, p1, p2 & 0xff00, 0, 0, 0, 0, 0]).toString()}/40`;
  }
  return `${new ipaddr.IPv6([p0, p1, p2, 0, 0, 0, 0, 0]).toString()}/48`;
}

/** The strict parse behind all three: ipaddr.js objects built from parts, never from `ipaddr.parse`. */
function parseAddress(input: string): ipaddr.IPv4 | ipaddr.IPv6 | null {
  if (typeof input !== "string" || input.length === 0 || input.length > MAX_LENGTH) return null;
  if (!input.includes(":")) {
    return IPV4.test(input) ? new ipaddr.IPv4(input.split(".").map(Number)) : null;
  }
  const parts = parseIpv6Parts(input);
  if (parts === null) return null;
  if (isIpv4Mapped(parts)) {
    const [hi, lo] = [parts[6] as number, parts[7] as number];
    return new ipaddr.IPv4([hi >> 8, hi & 0xff, lo >> 8, lo & 0xff]);
  }
  return new ipaddr.IPv6(parts);
}

/** Eight 16-bit groups of a strictly written IPv6 address, or null. */
function parseIpv6Parts(input: string): number[] | null {
  let text = input;
  // An embedded IPv4 (`::ffff:1.2.3.4`, `64:ff9b::1.2.3.4`) may only be the last 32 bits.
  const lastColon = text.lastIndexOf(":");
  const tail = text.slice(lastColon + 1);
  if (tail.includes(".")) {
    if (!IPV4.test(tail)) return null;
    const [a, b, c, d] = tail.split(".").map(Number) as [number, number, number, number];
    text = `${text.slice(0, lastColon + 1)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }

  const halves = text.split("::");
  if (halves.length > 2) return null;
  const groups = (half: string): string[] | null => {
    if (half === "") return [];
    const list = half.split(":");
    return list.every((g) => HEX_GROUP.test(g)) ? list : null;
  };
  const head = groups(halves[0] as string);
  if (head === null) return null;
  if (halves.length === 1) {
    return head.length === 8 ? head.map((g) => Number.parseInt(g, 16)) : null;
  }
  const rest = groups(halves[1] as string);
  // `::` stands for at least one zero group.
  if (rest === null || head.length + rest.length > 7) return null;
  const zeros = new Array<string>(8 - head.length - rest.length).fill("0");
  return [...head, ...zeros, ...rest].map((g) => Number.parseInt(g, 16));
}

function isIpv4Mapped(parts: readonly number[]): boolean {
  return (
    parts[0] === 0 &&
    parts[1] === 0 &&
    parts[2] === 0 &&
    parts[3] === 0 &&
    parts[4] === 0 &&
    parts[5] === 0xffff
  );
}

/**
 * The rate-limit bucket key of a client's address (http/rate-limit.ts, the edge's replay route): IPv4
 * as is (IPv4-mapped IPv6 included), IPv6 by its /64, the block one host or subscriber normally holds
 * whole, so rotating through it does not buy fresh budgets. Lenient on purpose (ipaddr.js): it keys a
 * connection's peer, never a check's input; anything unparsable is its own key.
 */
export function clientKey(address: string): string {
  if (!ipaddr.isValid(address)) return address;
  const parsed = ipaddr.process(address);
  if (parsed.kind() === "ipv4") return parsed.toString();
  const parts = (parsed as ipaddr.IPv6).parts.slice(0, 4);
  return `${new ipaddr.IPv6([...parts, 0, 0, 0, 0]).toString()}/64`;
}
