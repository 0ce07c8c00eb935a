import fc from "fast-check";
import ipaddr from "ipaddr.js";
import { describe, expect, it } from "vitest";
import { ipPrefix, isPublicIp, parseIp } from "../../src/geo/ip.js";

describe("parseIp", () => {
  const valid: { input: string; ip: string; version: 4 | 6 }[] = [
    { input: "1.2.3.4", ip: "1.2.3.4", version: 4 },
    { input: "0.0.0.0", ip: "0.0.0.0", version: 4 },
    { input: "255.255.255.255", ip: "255.255.255.255", version: 4 },
    { input: "10.0.0.10", ip: "10.0.0.10", version: 4 },
    { input: "2001:db8::1", ip: "2001:db8::1", version: 6 },
    { input: "2001:DB8::1", ip: "2001:db8::1", version: 6 },
    { input: "2001:0db8:0000:0000:0000:0000:0000:0001", ip: "2001:db8::1", version: 6 },
    { input: "2001:db8:0:0:1:0:0:1", ip: "2001:db8::1:0:0:1", version: 6 },
    { input: "2001:db8:0:1:0:0:0:1", ip: "2001:db8:0:1::1", version: 6 },
    { input: "1:0:2:3:4:5:6:7", ip: "1:0:2:3:4:5:6:7", version: 6 },
    { input: "1:2:3:4:5:6:7::", ip: "1:2:3:4:5:6:7:0", version: 6 },
    { input: "::2:3:4:5:6:7:8", ip: "0:2:3:4:5:6:7:8", version: 6 },
    { input: "::", ip: "::", version: 6 },
    { input: "0:0:0:0:0:0:0:0", ip: "::", version: 6 },
    { input: "::1", ip: "::1", version: 6 },
    { input: "fe80::1", ip: "fe80::1", version: 6 },
    { input: "2001:4860:4860::8888", ip: "2001:4860:4860::8888", version: 6 },
    // IPv4-mapped IPv6 is the IPv4 host, in any spelling.
    { input: "::ffff:1.2.3.4", ip: "1.2.3.4", version: 4 },
    { input: "::FFFF:1.2.3.4", ip: "1.2.3.4", version: 4 },
    { input: "::ffff:102:304", ip: "1.2.3.4", version: 4 },
    { input: "0:0:0:0:0:ffff:0102:0304", ip: "1.2.3.4", version: 4 },
    { input: "::ffff:0.0.0.0", ip: "0.0.0.0", version: 4 },
    // Other embedded IPv4 forms stay IPv6: they are different addresses, however spelled.
    { input: "::8.8.8.8", ip: "::808:808", version: 6 },
    { input: "::808:808", ip: "::808:808", version: 6 },
    { input: "64:ff9b::8.8.8.8", ip: "64:ff9b::808:808", version: 6 },
    { input: "::ffff:0:1.2.3.4", ip: "::ffff:0:102:304", version: 6 },
    { input: "1:2:3:4:5:6:1.2.3.4", ip: "1:2:3:4:5:6:102:304", version: 6 },
  ];
  it.each(valid)("normalises $input to $ip (IPv$version)", ({ input, ip, version }) => {
    expect(parseIp(input)).toEqual({ ip, version });
  });

  const invalid = [
    "",
    " ",
    " 1.2.3.4",
    "1.2.3.4 ",
    "1.2.3.4\n",
    "1.2.3",
    "1.2.3.4.5",
    "256.1.1.1",
    "1.2.3.-1",
    "01.2.3.4",
    "1.2.3.04",
    "1.02.3.4",
    "00.0.0.0",
    "0x7f.0.0.1",
    "0x7f000001",
    "2130706433",
    "1.2.3.4/32",
    "1.2.3.0/24",
    "2001:db8::/32",
    "2001:db8::1/128",
    "fe80::1%eth0",
    "fe80::1%1",
    "[::1]",
    "[2001:db8::1]:443",
    "1.2.3.4:80",
    ":::",
    "1:::2",
    "::1::",
    "1::2::3",
    ":1:2:3:4:5:6:7",
    "1:2:3:4:5:6:7:",
    "1:2:3:4:5:6:7",
    "1:2:3:4:5:6:7:8:9",
    "1:2:3:4:5:6:7:8::",
    "::1:2:3:4:5:6:7:8",
    "02001:db8::1",
    "2001:db8::g",
    "::ffff:01.2.3.4",
    "::ffff:0x1.2.3.4",
    "::ffff:1.2.3",
    "::ffff:256.2.3.4",
    "1.2.3.4::",
    "::1.2.3.4:5",
    "1:2:3:4:5:6:7:1.2.3.4",
    "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.2550",
    "localhost",
    "example.com",
    "not an ip",
    "１.２.３.４",
    "1.2.3.4\u0000",
  ];
  it.each(invalid)("rejects %j", (input) => {
    expect(parseIp(input)).toBeNull();
  });

  it("rejects non-strings without throwing", () => {
    expect(parseIp(undefined as unknown as string)).toBeNull();
    expect(parseIp(16909060 as unknown as string)).toBeNull();
  });

  it("gives the same canonical text however an address is written", () => {
    const spellings = ["2001:db8:0:0:0:0:0:1", "2001:DB8::1", "2001:0db8::0001", "2001:db8:0::1"];
    expect(new Set(spellings.map((s) => parseIp(s)?.ip))).toEqual(new Set(["2001:db8::1"]));
  });
});

describe("isPublicIp", () => {
  const table: [string, boolean, string][] = [
    ["8.8.8.8", true, "global unicast"],
    ["1.1.1.1", true, "global unicast"],
    ["193.0.0.1", true, "global unicast"],
    ["100.63.255.255", true, "just below CGNAT"],
    ["100.128.0.0", true, "just above CGNAT"],
    ["172.15.255.255", true, "just below 172.16/12"],
    ["172.32.0.0", true, "just above 172.16/12"],
    ["10.1.2.3", false, "private"],
    ["172.16.0.1", false, "private"],
    ["172.31.255.255", false, "private"],
    ["192.168.1.1", false, "private"],
    ["127.0.0.1", false, "loopback"],
    ["169.254.1.1", false, "link-local"],
    ["100.64.0.1", false, "CGNAT"],
    ["100.127.255.255", false, "CGNAT"],
    ["0.0.0.0", false, "unspecified"],
    ["0.1.2.3", false, "this network"],
    ["224.0.0.1", false, "multicast"],
    ["239.255.255.250", false, "multicast"],
    ["240.0.0.1", false, "reserved"],
    ["255.255.255.255", false, "broadcast"],
    ["192.0.0.8", false, "IETF protocol assignments"],
    ["192.0.2.1", false, "TEST-NET-1"],
    ["198.51.100.1", false, "TEST-NET-2"],
    ["203.0.113.1", false, "TEST-NET-3"],
    ["198.18.0.1", false, "benchmarking"],
    ["198.19.255.255", false, "benchmarking"],
    ["192.88.99.1", false, "6to4 relay anycast"],
    ["2001:4860:4860::8888", true, "global unicast"],
    ["2a00:1450:4001::1", true, "global unicast"],
    ["2400:cb00::1", true, "global unicast"],
    ["3ffe::1", true, "inside 2000::/3, not special"],
    ["::ffff:8.8.8.8", true, "IPv4-mapped public"],
    ["::ffff:10.0.0.1", false, "IPv4-mapped private"],
    ["::1", false, "loopback"],
    ["::", false, "unspecified"],
    ["fe80::1", false, "link-local"],
    ["fc00::1", false, "ULA"],
    ["fd12:3456:789a::1", false, "ULA"],
    ["ff02::1", false, "multicast"],
    ["fec0::1", false, "deprecated site-local"],
    ["2001:db8::1", false, "documentation"],
    ["2001:db8:ffff::1", false, "documentation"],
    ["3fff::1", false, "documentation (RFC 9637)"],
    ["2001::1", false, "Teredo: the relay's IPv4, not the user's"],
    ["2001:2::1", false, "benchmarking"],
    ["2001:10::1", false, "ORCHID"],
    ["2002:808:808::1", false, "6to4: deprecated, fail open"],
    ["64:ff9b::808:808", false, "NAT64"],
    ["100::1", false, "discard"],
    ["::808:808", false, "IPv4-compatible (deprecated)"],
    ["4000::1", false, "outside 2000::/3, unallocated"],
    ["5f00::1", false, "segment routing"],
    ["not an ip", false, "garbage"],
    ["01.2.3.4", false, "ambiguous octets"],
  ];
  it.each(table)("%s is public: %s (%s)", (ip, expected) => {
    expect(isPublicIp(ip)).toBe(expected);
  });
});

describe("ipPrefix", () => {
  const table: [string, string][] = [
    ["203.0.113.7", "203.0.113.0/24"],
    ["8.8.8.8", "8.8.8.0/24"],
    ["10.0.0.255", "10.0.0.0/24"],
    ["0.0.0.0", "0.0.0.0/24"],
    ["::ffff:1.2.3.4", "1.2.3.0/24"],
    ["2001:db8:1234:5678::1", "2001:db8:1234::/48"],
    ["2001:db8:1234::", "2001:db8:1234::/48"],
    ["2001:4860:4860::8888", "2001:4860:4860::/48"],
    ["2001:0:0:1::1", "2001::/48"],
    ["::1", "::/48"],
    ["fe80::1", "fe80::/48"],
    ["ABCD:EF01:2345:6789::", "abcd:ef01:2345::/48"],
    // 6to4: a /48 would be the whole embedded IPv4 address (I6); /40 keeps its /24.
    ["2002:c000:0201::1", "2002:c000:200::/40"],
  ];
  it.each(table)("keeps %s as %s", (ip, prefix) => {
    expect(ipPrefix(ip)).toBe(prefix);
  });

  it("never contains the last IPv4 octet or the interface identifier", () => {
    expect(ipPrefix("198.51.100.213")).not.toContain("213");
    expect(ipPrefix("2001:db8:aaaa:bbbb:cccc:dddd:eeee:ffff")).toBe("2001:db8:aaaa::/48");
  });

  it("throws on input that is not an address", () => {
    expect(() => ipPrefix("1.2.3")).toThrow(TypeError);
    expect(() => ipPrefix("")).toThrow(TypeError);
  });
});

/** `2001:0db8:0000:...`: every group written out in four digits. */
const fixedLength = (parts: number[]) => parts.map((p) => p.toString(16).padStart(4, "0")).join(":");

describe("parseIp, for any address", () => {
  const parts = fc.array(fc.integer({ min: 0, max: 0xffff }), { minLength: 8, maxLength: 8 });
  const sparse = fc.array(fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 0xffff })), {
    minLength: 8,
    maxLength: 8,
  });
  const octets = fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 4, maxLength: 4 });

  it("reads every spelling of an IPv6 address to the one RFC 5952 text", () => {
    fc.assert(
      fc.property(fc.oneof(parts, sparse), (p) => {
        const address = new ipaddr.IPv6(p);
        const expected = address.isIPv4MappedAddress()
          ? address.toIPv4Address().toString()
          : address.toString();
        for (const spelling of [
          address.toString(),
          address.toNormalizedString(),
          fixedLength(p),
          fixedLength(p).toUpperCase(),
        ]) {
          expect(parseIp(spelling)?.ip).toBe(expected);
        }
      }),
    );
  });

  it("is idempotent", () => {
    fc.assert(
      fc.property(fc.oneof(parts, sparse), (p) => {
        const once = parseIp(new ipaddr.IPv6(p).toNormalizedString());
        expect(once).not.toBeNull();
        expect(parseIp(once?.ip as string)).toEqual(once);
      }),
    );
  });

  it("reads IPv4 and its IPv4-mapped form to the same address", () => {
    fc.assert(
      fc.property(octets, (o) => {
        const text = o.join(".");
        expect(parseIp(text)).toEqual({ ip: text, version: 4 });
        expect(parseIp(`::ffff:${text}`)).toEqual({ ip: text, version: 4 });
        expect(ipPrefix(`::ffff:${text}`)).toBe(ipPrefix(text));
      }),
    );
  });

  it("keeps a prefix that contains the address and nothing past /24 or /48", () => {
    fc.assert(
      fc.property(
        fc.oneof(
          octets.map((o) => o.join(".")),
          parts.map((p) => new ipaddr.IPv6(p).toString()),
        ),
        (ip) => {
          const parsed = parseIp(ip) as { ip: string };
          const [network, bits] = ipaddr.parseCIDR(ipPrefix(ip));
          expect(ipaddr.parse(parsed.ip).match(network, bits)).toBe(true);
          expect(bits).toBeLessThanOrEqual(ipaddr.parse(parsed.ip).kind() === "ipv4" ? 24 : 48);
        },
      ),
    );
  });
});
