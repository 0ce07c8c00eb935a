/**
 * The fixture writer is only useful if real readers agree with it, so every test here reads the output
 * back through `maxmind` (mmdb-lib) and/or `@maxmind/geoip2-node` rather than through our own decoder.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AddressNotFoundError, BadMethodCallError, Reader as GeoIp2Reader } from "@maxmind/geoip2-node";
import { iso31661 } from "iso-3166";
import { open, Reader } from "maxmind";
import { describe, expect, it } from "vitest";
import {
  cityRecord,
  countryRecord,
  ipLocationDbRecord,
  type MmdbNetwork,
  type MmdbValue,
  typed,
  type WriteMmdbOptions,
  writeMmdb,
  writeMmdbFile,
} from "./support/mmdb-writer.js";
import { prng } from "./support/prng.js";

const RECORD_SIZES = [24, 28, 32] as const;
const EPOCH = 1_750_000_000;

function db(networks: MmdbNetwork[], extra: Partial<WriteMmdbOptions> = {}): Buffer {
  return writeMmdb({ databaseType: "Test-DB", ipVersion: 4, buildEpoch: EPOCH, networks, ...extra });
}

describe("IPv4 databases", () => {
  it("finds networks, reports their prefix length, and misses addresses outside them", () => {
    const reader = new Reader(
      db([
        { cidr: "1.2.3.0/24", data: { name: "one" } },
        { cidr: "200.100.0.0/16", data: { name: "two" } },
        { cidr: "9.9.9.9", data: { name: "host" } },
      ]),
    );
    expect(reader.getWithPrefixLength("1.2.3.4")).toEqual([{ name: "one" }, 24]);
    expect(reader.getWithPrefixLength("1.2.3.255")).toEqual([{ name: "one" }, 24]);
    expect(reader.getWithPrefixLength("200.100.255.1")).toEqual([{ name: "two" }, 16]);
    expect(reader.getWithPrefixLength("9.9.9.9")).toEqual([{ name: "host" }, 32]);
    expect(reader.get("9.9.9.8")).toBeNull();
    expect(reader.get("1.2.4.0")).toBeNull();
    expect(reader.get("1.2.2.255")).toBeNull();
    expect(reader.get("200.101.0.0")).toBeNull();
    // The empty record for 1.2.2.x sits right beside 1.2.3.0/24's: the reader reports that depth.
    expect(reader.getWithPrefixLength("1.2.2.1")).toEqual([null, 24]);
  });

  it("lets a more specific network win inside a broader one, whatever the input order", () => {
    const networks: MmdbNetwork[] = [
      { cidr: "10.1.2.0/24", data: { level: "c" } },
      { cidr: "10.0.0.0/8", data: { level: "a" } },
      { cidr: "10.1.0.0/16", data: { level: "b" } },
      { cidr: "0.0.0.0/0", data: { level: "default" } },
    ];
    for (const order of [networks, [...networks].reverse()]) {
      const reader = new Reader(db(order));
      expect(reader.getWithPrefixLength("10.1.2.77")).toEqual([{ level: "c" }, 24]);
      // Outside a carved-out network the reader reports the leftover block holding the address, as it
      // does for real MaxMind databases: 10.1.3.0 is in 10.1.3.0/24, the sibling of 10.1.2.0/24.
      expect(reader.getWithPrefixLength("10.1.3.0")).toEqual([{ level: "b" }, 24]);
      expect(reader.getWithPrefixLength("10.1.0.0")).toEqual([{ level: "b" }, 23]); // 10.1.0.0/23
      expect(reader.getWithPrefixLength("10.1.255.255")).toEqual([{ level: "b" }, 17]); // 10.1.128.0/17
      expect(reader.getWithPrefixLength("10.0.255.255")).toEqual([{ level: "a" }, 16]); // 10.0.0.0/16
      expect(reader.getWithPrefixLength("10.2.0.0")).toEqual([{ level: "a" }, 15]); // 10.2.0.0/15
      expect(reader.getWithPrefixLength("10.128.0.0")).toEqual([{ level: "a" }, 9]); // 10.128.0.0/9
      expect(reader.getWithPrefixLength("9.255.255.255")).toEqual([{ level: "default" }, 7]); // 8.0.0.0/7
      expect(reader.getWithPrefixLength("11.0.0.0")).toEqual([{ level: "default" }, 8]); // 11.0.0.0/8
      expect(reader.getWithPrefixLength("200.0.0.0")).toEqual([{ level: "default" }, 1]); // 128.0.0.0/1
    }
  });

  it("keeps the later of two identical networks and masks host bits", () => {
    const reader = new Reader(
      db([
        { cidr: "10.0.0.0/8", data: { v: 1 } },
        { cidr: "10.9.9.9/8", data: { v: 2 } },
      ]),
    );
    expect(reader.getWithPrefixLength("10.200.0.1")).toEqual([{ v: 2 }, 8]);
  });

  it("stores an IPv4-mapped IPv6 network as IPv4", () => {
    const reader = new Reader(db([{ cidr: "::ffff:5.6.7.0/120", data: { v: 1 } }]));
    expect(reader.getWithPrefixLength("5.6.7.8")).toEqual([{ v: 1 }, 24]);
  });

  it("rejects IPv6 networks and malformed CIDRs", () => {
    expect(() => db([{ cidr: "2001:db8::/32", data: {} }])).toThrow(/IPv4 database/);
    expect(() => db([{ cidr: "10.0.0.0/33", data: {} }])).toThrow(/invalid network/);
    expect(() => db([{ cidr: "not-an-ip", data: {} }])).toThrow(/invalid network/);
  });
});

describe("IPv6 databases", () => {
  const networks: MmdbNetwork[] = [
    { cidr: "1.2.3.0/24", data: { family: "v4" } },
    { cidr: "2001:db8::/32", data: { family: "v6", level: "outer" } },
    { cidr: "2001:db8:1::/48", data: { family: "v6", level: "inner" } },
    { cidr: "2a00:1450:4001::1", data: { family: "v6", level: "host" } },
  ];

  it("finds IPv4 networks by IPv4, IPv4-compatible and IPv4-mapped address", () => {
    const reader = new Reader(writeMmdb({ databaseType: "Test", ipVersion: 6, networks }));
    // mmdb-lib starts IPv4 lookups at the node for ::/96, so the prefix is relative to that.
    expect(reader.getWithPrefixLength("1.2.3.4")).toEqual([{ family: "v4" }, 24]);
    expect(reader.getWithPrefixLength("::1.2.3.4")).toEqual([{ family: "v4" }, 120]);
    expect(reader.getWithPrefixLength("::ffff:1.2.3.4")).toEqual([{ family: "v4" }, 120]);
    expect(reader.get("1.2.4.4")).toBeNull();
    expect(reader.get("::ffff:1.2.4.4")).toBeNull();
  });

  it("only answers IPv4-mapped lookups through the alias, which can be turned off", () => {
    const reader = new Reader(
      writeMmdb({ databaseType: "Test", ipVersion: 6, networks, aliasIpv4Mapped: false }),
    );
    expect(reader.get("1.2.3.4")).toEqual({ family: "v4" });
    expect(reader.get("::ffff:1.2.3.4")).toBeNull();
  });

  it("finds nested IPv6 networks with their prefix lengths", () => {
    const reader = new Reader(writeMmdb({ databaseType: "Test", ipVersion: 6, networks }));
    // Leftover blocks of the /32 around the carved-out /48: 2001:db8::/48 and 2001:db8:8000::/33.
    expect(reader.getWithPrefixLength("2001:db8::1")).toEqual([{ family: "v6", level: "outer" }, 48]);
    expect(reader.getWithPrefixLength("2001:db8:ffff:ffff::1")).toEqual([
      { family: "v6", level: "outer" },
      33,
    ]);
    expect(reader.getWithPrefixLength("2001:db8:1:2::3")).toEqual([{ family: "v6", level: "inner" }, 48]);
    expect(reader.getWithPrefixLength("2a00:1450:4001::1")).toEqual([{ family: "v6", level: "host" }, 128]);
    expect(reader.get("2a00:1450:4001::2")).toBeNull();
    expect(reader.get("2001:db9::1")).toBeNull();
    expect(reader.get("::1")).toBeNull();
  });

  it("serves the alias for an IPv4 range covered only by a broad IPv6 network", () => {
    const reader = new Reader(
      writeMmdb({ databaseType: "Test", ipVersion: 6, networks: [{ cidr: "::/64", data: { v: "wide" } }] }),
    );
    expect(reader.get("::ffff:8.8.8.8")).toEqual({ v: "wide" });
    expect(reader.get("::8.8.8.8")).toEqual({ v: "wide" });
    expect(reader.get("0:0:0:1::")).toBeNull();
  });
});

describe("metadata", () => {
  it("reads back every field the readers use", () => {
    for (const recordSize of RECORD_SIZES) {
      const buffer = writeMmdb({
        databaseType: "GeoIP2-City",
        ipVersion: 6,
        recordSize,
        buildEpoch: EPOCH,
        languages: ["en", "de", "zh-CN"],
        description: { en: "Cordon fixture", de: "Cordon-Testdaten" },
        networks: [{ cidr: "1.0.0.0/8", data: { a: 1 } }],
      });
      const { metadata } = new Reader(buffer);
      expect(metadata).toMatchObject({
        binaryFormatMajorVersion: 2,
        binaryFormatMinorVersion: 0,
        databaseType: "GeoIP2-City",
        description: { en: "Cordon fixture", de: "Cordon-Testdaten" },
        ipVersion: 6,
        languages: ["en", "de", "zh-CN"],
        recordSize,
        nodeByteSize: recordSize / 4,
      });
      expect(metadata.buildEpoch).toEqual(new Date(EPOCH * 1000));
      // The root and 103 nodes down to ::1.0.0.0/104, plus 15 for the ::ffff:0:0/96 alias, which
      // branches off the all-zero path at depth 80 and ends in a record at depth 96: 119 nodes.
      expect(metadata.nodeCount).toBe(119);
      const separator = buffer.subarray(metadata.searchTreeSize, metadata.searchTreeSize + 16);
      expect(separator).toEqual(Buffer.alloc(16));
    }
  });

  it("defaults languages, description and build time", () => {
    const before = Math.floor(Date.now() / 1000);
    const { metadata } = new Reader(writeMmdb({ databaseType: "X", ipVersion: 4, networks: [] }));
    expect(metadata.languages).toEqual(["en"]);
    expect(metadata.description).toEqual({ en: "X test fixture" });
    expect(metadata.buildEpoch.getTime() / 1000).toBeGreaterThanOrEqual(before);
    expect(metadata.buildEpoch.getTime()).toBeLessThanOrEqual(Date.now());
  });

  it("is deterministic for the same input", () => {
    const networks = [{ cidr: "1.2.3.0/24", data: cityRecord({ country: "IN", subdivisions: ["IN-MH"] }) }];
    expect(db(networks).equals(db(networks))).toBe(true);
  });
});

describe("data section encoding", () => {
  it("round-trips every value type", () => {
    const record: Record<string, MmdbValue> = {
      utf8: "Île-de-France",
      emoji: "🚀 Zürich 東京",
      empty: "",
      size29: "s".repeat(100),
      size30: "m".repeat(300),
      size31: "l".repeat(70_000),
      double: 72.877_655,
      negativeDouble: -0.5,
      yes: true,
      no: false,
      zero: 0,
      uint32: 4_294_967_295,
      negative: -42,
      int32Min: -2_147_483_648,
      bigNumber: 2 ** 40,
      uint64Max: 2n ** 64n - 1n,
      uint128: 2n ** 100n,
      uint16: typed("uint16", 65_535),
      float: typed("float", 1.5),
      wholeDouble: typed("double", 2),
      int32Positive: typed("int32", 7),
      bytes: Buffer.from([0, 1, 2, 255]),
      typedBytes: typed("bytes", new Uint8Array([9, 8])),
      nested: { a: [1, "two", { three: [true, { four: 4.5 }] }], emptyMap: {}, emptyArray: [] },
      wideMap: Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`k${i}`, i])),
      longArray: Array.from({ length: 300 }, (_, i) => i * 1000),
    };
    const reader = new Reader(db([{ cidr: "1.0.0.0/8", data: record }]));
    expect(reader.get("1.1.1.1")).toEqual({
      utf8: "Île-de-France",
      emoji: "🚀 Zürich 東京",
      empty: "",
      size29: "s".repeat(100),
      size30: "m".repeat(300),
      size31: "l".repeat(70_000),
      double: 72.877_655,
      negativeDouble: -0.5,
      yes: true,
      no: false,
      zero: 0,
      uint32: 4_294_967_295,
      negative: -42,
      int32Min: -2_147_483_648,
      // uint64 and uint128 come back as bigint.
      bigNumber: 1_099_511_627_776n,
      uint64Max: 18_446_744_073_709_551_615n,
      uint128: 1_267_650_600_228_229_401_496_703_205_376n,
      uint16: 65_535,
      float: 1.5,
      wholeDouble: 2,
      int32Positive: 7,
      bytes: Buffer.from([0, 1, 2, 255]),
      typedBytes: Buffer.from([9, 8]),
      nested: { a: [1, "two", { three: [true, { four: 4.5 }] }], emptyMap: {}, emptyArray: [] },
      wideMap: Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`k${i}`, i])),
      longArray: Array.from({ length: 300 }, (_, i) => i * 1000),
    });
  });

  it("rejects values that do not fit their type", () => {
    expect(() => db([{ cidr: "1.0.0.0/8", data: { v: typed("uint16", 65_536) } }])).toThrow(RangeError);
    expect(() => db([{ cidr: "1.0.0.0/8", data: { v: -(2 ** 31) - 1 } }])).toThrow(RangeError);
    expect(() => db([{ cidr: "1.0.0.0/8", data: { v: -1n } }])).toThrow(RangeError);
    expect(() => db([{ cidr: "1.0.0.0/8", data: { v: 2n ** 128n } }])).toThrow(RangeError);
  });

  it("stores repeated values once and points at them", () => {
    const long = "z".repeat(1000);
    const buffer = db([
      { cidr: "10.0.0.0/24", data: { note: long, n: 1 } },
      { cidr: "10.0.1.0/24", data: { note: long, n: 2 } },
      { cidr: "10.0.2.0/24", data: { note: long, n: 1 } },
    ]);
    expect(buffer.length).toBeLessThan(1500);
    const reader = new Reader(buffer);
    expect(reader.get("10.0.0.1")).toEqual({ note: long, n: 1 });
    expect(reader.get("10.0.1.1")).toEqual({ note: long, n: 2 });
    expect(reader.get("10.0.2.1")).toEqual({ note: long, n: 1 });
  });

  it("uses the longer pointer forms once the data section passes 2 KiB and 512 KiB", () => {
    const shared = { label: "shared-value-xyz", list: [1, 2, 3], map: { a: "bcdef" } };
    const buffer = db([
      { cidr: "10.0.0.0/24", data: { pad: "p".repeat(3000) } },
      { cidr: "10.0.1.0/24", data: { first: shared } }, // written past 2048: 3-byte pointers to it
      { cidr: "10.0.2.0/24", data: { pad: "q".repeat(600_000) } },
      { cidr: "10.0.3.0/24", data: { second: shared, again: "shared-value-xyz" } },
      { cidr: "10.0.4.0/24", data: { late: "late-string-abc", list: [4, 5] } }, // past 526336: 4-byte pointers
      { cidr: "10.0.5.0/24", data: { more: "late-string-abc", list: [4, 5] } },
    ]);
    expect(buffer.indexOf("shared-value-xyz")).toBe(buffer.lastIndexOf("shared-value-xyz"));
    expect(buffer.indexOf("late-string-abc")).toBe(buffer.lastIndexOf("late-string-abc"));
    const reader = new Reader(buffer);
    expect(reader.get("10.0.1.1")).toEqual({ first: shared });
    expect(reader.get("10.0.3.1")).toEqual({ second: shared, again: "shared-value-xyz" });
    expect(reader.get("10.0.5.1")).toEqual({ more: "late-string-abc", list: [4, 5] });
  });
});

describe("record sizes", () => {
  it("uses the high nibbles of 28-bit records and the full 32 bits, and refuses to overflow 24", () => {
    // Data written after a 16.8 MB string sits past 2^24, so record values pointing at it need more than
    // 24 bits. Node 0.0.0.0/2 then holds a small left and a large right record; node 64.0.0.0/2 the
    // reverse, so each record's top nibble must land in its own half of the 28-bit layout's middle byte.
    const networks: MmdbNetwork[] = [
      { cidr: "0.0.0.0/3", data: { v: "early-left" } },
      { cidr: "96.0.0.0/3", data: { v: "early-right" } },
      { cidr: "128.0.0.0/1", data: { blob: "x".repeat(16_800_000) } },
      { cidr: "32.0.0.0/3", data: { v: "late-right" } },
      { cidr: "64.0.0.0/3", data: { v: "late-left" } },
    ];
    for (const recordSize of [28, 32] as const) {
      const reader = new Reader(db(networks, { recordSize }));
      expect(reader.getWithPrefixLength("1.2.3.4")).toEqual([{ v: "early-left" }, 3]);
      expect(reader.getWithPrefixLength("33.0.0.1")).toEqual([{ v: "late-right" }, 3]);
      expect(reader.getWithPrefixLength("65.0.0.1")).toEqual([{ v: "late-left" }, 3]);
      expect(reader.getWithPrefixLength("97.0.0.1")).toEqual([{ v: "early-right" }, 3]);
      const [blob, prefix] = reader.getWithPrefixLength("200.0.0.1");
      expect([(blob as { blob: string }).blob.length, prefix]).toEqual([16_800_000, 1]);
    }
    expect(() => db(networks, { recordSize: 24 })).toThrow(RangeError);
  });
});

/** Random networks, about half of them nested inside an earlier one (so more specific ones carve holes). */
function randomIpv4Networks(seed: number, count: number): { net: number; prefix: number }[] {
  const random = prng(seed);
  const out: { net: number; prefix: number }[] = [];
  for (let i = 0; i < count; i++) {
    const parent = out.length > 0 && random() < 0.5 ? out[Math.floor(random() * out.length)] : undefined;
    const minPrefix = parent ? Math.min(parent.prefix + 1, 32) : 8;
    const prefix = minPrefix + Math.floor(random() * (33 - minPrefix));
    const base = parent ? parent.net : 0;
    const free = parent ? ~maskOf(parent.prefix) >>> 0 : 0xffff_ffff;
    const net = ((base | (Math.floor(random() * 2 ** 32) & free)) & maskOf(prefix)) >>> 0;
    out.push({ net, prefix });
  }
  return out;
}

function maskOf(prefix: number): number {
  return prefix === 0 ? 0 : (0xffff_ffff << (32 - prefix)) >>> 0;
}

function ipv4(n: number): string {
  return [n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff].join(".");
}

/**
 * Brute-force expectation for a lookup, independent of the writer's tree code. The data is that of the
 * longest matching network (the later one among duplicates). The reported prefix length is the depth of
 * the tree record reached: at least the network's own prefix, and deeper where a more specific network
 * nearby forced a split: an address that shares `k` leading bits with a network it is not in ends in a
 * leftover block at depth k + 1.
 */
function expectLookup<N extends { prefix: number }>(
  networks: readonly N[],
  contains: (network: N) => boolean,
  commonPrefix: (network: N) => number,
): { best: number; depth: number } {
  let best = -1;
  let depth = 0;
  networks.forEach((network, i) => {
    if (contains(network)) {
      if (best < 0 || network.prefix >= (networks[best]?.prefix ?? 0)) best = i;
      depth = Math.max(depth, network.prefix);
    } else {
      depth = Math.max(depth, commonPrefix(network) + 1);
    }
  });
  return { best, depth };
}

describe("large databases", () => {
  const countries = ["IN", "FR", "US", "DE", "BR", "JP", "ZA", "AU"];
  const networks = randomIpv4Networks(0xc0ffee, 2000);
  const input: MmdbNetwork[] = networks.map(({ net, prefix }, i) => ({
    cidr: `${ipv4(net)}/${prefix}`,
    data: {
      id: i,
      label: `label-${i % 37}`,
      country: countryRecord(countries[i % countries.length] as string),
    },
  }));
  const random = prng(42);
  const probes = [
    ...networks.map(({ net, prefix }) => (net | (Math.floor(random() * 2 ** 32) & ~maskOf(prefix))) >>> 0),
    ...Array.from({ length: 2000 }, () => Math.floor(random() * 2 ** 32)),
  ].map((address) => ({
    address,
    ...expectLookup(
      networks,
      ({ net, prefix }) => (address & maskOf(prefix)) >>> 0 === net,
      ({ net }) => Math.clz32((address ^ net) >>> 0),
    ),
  }));

  it("probes both hits and misses", () => {
    expect(probes.filter((p) => p.best < 0).length).toBeGreaterThan(100);
    expect(probes.filter((p) => p.best >= 0).length).toBeGreaterThan(2000);
  });

  for (const recordSize of RECORD_SIZES) {
    it(`round-trips 2000 random nested IPv4 networks (IPv4 tree, ${recordSize}-bit records)`, () => {
      const reader = new Reader(db(input, { recordSize }));
      for (const { address, best, depth } of probes) {
        const ip = ipv4(address);
        expect(reader.getWithPrefixLength(ip), ip).toEqual([best < 0 ? null : input[best]?.data, depth]);
      }
    });

    it(`round-trips the same networks in an IPv6 tree (${recordSize}-bit records)`, () => {
      const reader = new Reader(db(input, { recordSize, ipVersion: 6 }));
      for (const { address, best, depth } of probes) {
        const ip = ipv4(address);
        const want = best < 0 ? null : input[best]?.data;
        expect(reader.getWithPrefixLength(ip), ip).toEqual([want, depth]);
        expect(reader.getWithPrefixLength(`::ffff:${ip}`), `::ffff:${ip}`).toEqual([want, depth + 96]);
        expect(reader.getWithPrefixLength(`::${ip}`), `::${ip}`).toEqual([want, depth + 96]);
      }
    });
  }

  it("round-trips 500 random nested IPv6 networks", () => {
    const rnd = prng(7);
    const heads = [0x2001n, 0x2a00n, 0x2c0fn];
    const randomBits = (): bigint => {
      let v = 0n;
      for (let i = 0; i < 8; i++) v = (v << 16n) | BigInt(Math.floor(rnd() * 0x10000));
      return v;
    };
    const all = (1n << 128n) - 1n;
    const mask6 = (prefix: number): bigint => (all << BigInt(128 - prefix)) & all;
    const nets: { net: bigint; prefix: number }[] = [];
    for (let i = 0; i < 500; i++) {
      const parent = nets.length > 0 && rnd() < 0.5 ? nets[Math.floor(rnd() * nets.length)] : undefined;
      const minPrefix = parent ? Math.min(parent.prefix + 1, 128) : 16;
      const prefix = minPrefix + Math.floor(rnd() * (129 - minPrefix));
      const base = parent
        ? parent.net | (randomBits() & (all ^ mask6(parent.prefix)))
        : ((heads[Math.floor(rnd() * heads.length)] as bigint) << 112n) | (randomBits() & (all >> 16n));
      nets.push({ net: base & mask6(prefix), prefix });
    }
    const text = (v: bigint): string =>
      Array.from({ length: 8 }, (_, i) => ((v >> BigInt(112 - 16 * i)) & 0xffffn).toString(16)).join(":");
    const reader = new Reader(
      writeMmdb({
        databaseType: "Test",
        ipVersion: 6,
        networks: nets.map(({ net, prefix }, i) => ({ cidr: `${text(net)}/${prefix}`, data: { id: i } })),
      }),
    );
    const probes6 = [
      ...nets.map(({ net, prefix }) => net | (randomBits() & (all ^ mask6(prefix)))),
      ...Array.from({ length: 500 }, () => ((heads[0] as bigint) << 112n) | (randomBits() & (all >> 16n))),
    ];
    let misses = 0;
    for (const address of probes6) {
      const { best, depth } = expectLookup(
        nets,
        ({ net, prefix }) => (address & mask6(prefix)) === net,
        ({ net }) => 128 - (address ^ net).toString(2).length,
      );
      if (best < 0) misses++;
      expect(reader.getWithPrefixLength(text(address)), text(address)).toEqual([
        best < 0 ? null : { id: best },
        depth,
      ]);
    }
    expect(misses).toBeGreaterThan(50);
  });

  it("stores identical records once", () => {
    const same = cityRecord({ country: "IN", subdivisions: ["IN-MH"], city: "Mumbai" });
    const one = db([{ cidr: "10.0.0.0/24", data: same }]);
    const many = db(Array.from({ length: 200 }, (_, i) => ({ cidr: `10.0.${i}.0/24`, data: same })));
    const oneReader = new Reader<MmdbRecord>(one);
    const manyReader = new Reader<MmdbRecord>(many);
    const dataSize = (buffer: Buffer, searchTreeSize: number): number =>
      buffer.indexOf("\xAB\xCD\xEFMaxMind.com", 0, "latin1") - searchTreeSize - 16;
    expect(dataSize(many, manyReader.metadata.searchTreeSize)).toBe(
      dataSize(one, oneReader.metadata.searchTreeSize),
    );
    expect(manyReader.get("10.0.199.1")).toEqual(oneReader.get("10.0.0.1"));
  });
});

type MmdbRecord = Record<string, unknown>;

describe("GeoIP2 records through @maxmind/geoip2-node", () => {
  const city = GeoIp2Reader.openBuffer(
    writeMmdb({
      databaseType: "GeoIP2-City",
      ipVersion: 6,
      networks: [
        {
          cidr: "1.2.3.0/24",
          data: cityRecord({
            country: "IN",
            subdivisions: ["IN-MH"],
            city: "Mumbai",
            postalCode: "400001",
            location: { latitude: 19.07, longitude: 72.88, accuracyRadius: 20, timeZone: "Asia/Kolkata" },
          }),
        },
        { cidr: "2a01:cb00::/32", data: cityRecord({ country: "FR", subdivisions: ["FR-IDF", "FR-75C"] }) },
        {
          cidr: "5.5.0.0/16",
          data: cityRecord({
            country: "ES",
            subdivisions: ["ES-CT"],
            names: { subdivisions: [{ en: "Catalonia", es: "Cataluña" }], country: { de: "Spanien" } },
          }),
        },
      ],
    }),
  );

  it("reads a city record with subdivision, city, location and network", () => {
    const model = city.city("1.2.3.4");
    expect(model.continent).toMatchObject({ code: "AS", names: { en: "Asia" } });
    expect(model.country).toMatchObject({ isoCode: "IN", names: { en: "India" } });
    expect(model.registeredCountry).toMatchObject({ isoCode: "IN", isInEuropeanUnion: false });
    expect(model.subdivisions).toHaveLength(1);
    expect(model.subdivisions?.[0]).toMatchObject({ isoCode: "MH", names: { en: "Mahārāshtra" } });
    expect(model.subdivisions?.[0]?.geonameId).toEqual(expect.any(Number));
    expect(model.city?.names.en).toBe("Mumbai");
    expect(model.postal?.code).toBe("400001");
    expect(model.location).toEqual({
      accuracyRadius: 20,
      latitude: 19.07,
      longitude: 72.88,
      timeZone: "Asia/Kolkata",
    });
    expect(model.traits.network).toBe("1.2.3.0/24");
    expect(model.traits.ipAddress).toBe("1.2.3.4");
    expect(city.city("::ffff:1.2.3.4").traits.network).toBe("::ffff:1.2.3.0/120");
    expect(city.city("::ffff:1.2.3.4").subdivisions?.[0]?.isoCode).toBe("MH");
  });

  it("reads nested subdivisions, EU membership, extra languages and IPv6 networks", () => {
    const paris = city.city("2a01:cb00:1234::1");
    expect(paris.subdivisions?.map((s) => [s.isoCode, s.names.en])).toEqual([
      ["IDF", "Île-de-France"],
      ["75C", "Paris"],
    ]);
    expect(paris.country?.isInEuropeanUnion).toBe(true);
    expect(paris.continent?.code).toBe("EU");
    expect(paris.city).toBeUndefined();
    // Whole-number coordinates still come back as numbers (stored as doubles).
    expect(paris.location).toMatchObject({ latitude: 0, longitude: 0 });
    expect(paris.traits.network).toBe("2a01:cb00::/32");

    const barcelona = city.city("5.5.5.5");
    expect(barcelona.subdivisions?.[0]?.names).toEqual({ en: "Catalonia", es: "Cataluña" });
    expect(barcelona.country?.names).toEqual({ en: "Spain", de: "Spanien" });
  });

  it("throws AddressNotFoundError for addresses outside the database", () => {
    expect(() => city.city("8.8.8.8")).toThrow(AddressNotFoundError);
    expect(() => city.city("2a02::1")).toThrow(AddressNotFoundError);
  });

  it("reads country records from a Country database (and country() refuses a City one)", () => {
    const country = GeoIp2Reader.openBuffer(
      writeMmdb({
        databaseType: "GeoIP2-Country",
        ipVersion: 6,
        networks: [
          { cidr: "3.0.0.0/8", data: countryRecord("DE") },
          { cidr: "4.0.0.0/8", data: countryRecord("US", { registeredCountry: "CA" }) },
        ],
      }),
    );
    const de = country.country("3.1.2.3");
    expect(de.country).toMatchObject({ isoCode: "DE", names: { en: "Germany" }, isInEuropeanUnion: true });
    expect(de.continent?.code).toBe("EU");
    expect(de.traits.network).toBe("3.0.0.0/8");
    const us = country.country("4.4.4.4");
    expect(us.country?.isoCode).toBe("US");
    expect(us.registeredCountry?.isoCode).toBe("CA");
    expect(() => country.country("5.0.0.1")).toThrow(AddressNotFoundError);
    expect(() => city.country("1.2.3.4")).toThrow(BadMethodCallError);
  });

  it("knows the continent of every ISO 3166-1 country", () => {
    const continents = new Set(["AF", "AN", "AS", "EU", "NA", "OC", "SA"]);
    for (const { alpha2 } of iso31661) {
      const continent = countryRecord(alpha2).continent as { code: string };
      expect(continents.has(continent.code), alpha2).toBe(true);
    }
    expect(() => countryRecord("ZZ")).toThrow(/continent/);
    expect((countryRecord("ZZ", { continent: "EU" }).country as { iso_code: string }).iso_code).toBe("ZZ");
  });
});

describe("ip-location-db records", () => {
  it("match the shape of the real @ip-location-db/geolite2-country-mmdb database", () => {
    const require = createRequire(import.meta.url);
    const realPath = require.resolve("@ip-location-db/geolite2-country-mmdb/geolite2-country.mmdb");
    const real = new Reader<MmdbRecord>(readFileSync(realPath));
    const ours = new Reader<MmdbRecord>(
      writeMmdb({
        databaseType: real.metadata.databaseType,
        ipVersion: 6,
        aliasIpv4Mapped: false,
        networks: [{ cidr: "8.8.8.0/24", data: ipLocationDbRecord("NL") }],
      }),
    );
    const realRecord = real.get("8.8.8.8");
    expect(realRecord).not.toBeNull();
    expect(Object.keys(ours.get("8.8.8.8") ?? {})).toEqual(Object.keys(realRecord ?? {}));
    expect(ours.get("8.8.8.8")).toEqual({ country_code: "NL" });
  });
});

describe("writeMmdbFile", () => {
  it("writes a file maxmind.open() can load", async () => {
    const dir = mkdtempSync(join(tmpdir(), "mmdb-writer-"));
    try {
      const path = join(dir, "nested", "city.mmdb");
      writeMmdbFile(path, {
        databaseType: "GeoIP2-City",
        ipVersion: 4,
        networks: [{ cidr: "1.2.3.0/24", data: cityRecord({ country: "IN", subdivisions: ["IN-MH"] }) }],
      });
      const reader = await open<MmdbRecord>(path);
      expect(reader.metadata.databaseType).toBe("GeoIP2-City");
      expect(reader.get("1.2.3.4")).toMatchObject({ subdivisions: [{ iso_code: "MH" }] });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
