/**
 * A small MaxMind DB (`.mmdb`) writer for tests: builds real GeoIP2-format databases at test time, so
 * fixtures can carry exactly the countries and ISO 3166-2 subdivisions a test needs (no npm package
 * ships a City database with subdivisions).
 *
 * Follows the MaxMind DB File Format Spec 2.0: a binary search tree of fixed-size nodes, a 16-byte
 * zero separator, the data section (typed encoding, with pointers for repeated values), then the
 * `\xAB\xCD\xEFMaxMind.com` marker and the metadata map. Its output is checked against the real
 * readers (`maxmind`/`mmdb-lib` and `@maxmind/geoip2-node`) in `test/mmdb-writer.test.ts`.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import ipaddr from "ipaddr.js";
import { iso31661, iso31662 } from "iso-3166";

// ---------------------------------------------------------------------------------------------------
// Values
// ---------------------------------------------------------------------------------------------------

/** Data types that plain JavaScript values cannot pick unambiguously (e.g. `latitude: 0` must be a double). */
export type MmdbScalarType =
  | "double"
  | "float"
  | "uint16"
  | "uint32"
  | "int32"
  | "uint64"
  | "uint128"
  | "bytes";

/** A value pinned to one MaxMind DB type. Build it with {@link typed}. */
export class MmdbTyped {
  constructor(
    readonly type: MmdbScalarType,
    readonly value: number | bigint | Uint8Array,
  ) {}
}

/**
 * A value the writer can encode. Inference for bare values: strings -> utf8_string, booleans -> boolean,
 * non-integer numbers -> double, integers >= 0 -> uint32 (uint64/uint128 when larger), negative integers
 * -> int32, bigints -> uint64 (uint128 when larger), `Uint8Array`/`Buffer` -> bytes, arrays -> array,
 * plain objects -> map. Note the readers return uint64/uint128 values as `bigint`.
 */
export type MmdbValue =
  | string
  | number
  | bigint
  | boolean
  | Uint8Array
  | MmdbTyped
  | MmdbValue[]
  | { [key: string]: MmdbValue };

/** Pins `value` to a MaxMind DB type, e.g. `typed("double", 0)` or `typed("uint16", 50)`. */
export function typed(type: MmdbScalarType, value: number | bigint | Uint8Array): MmdbTyped {
  return new MmdbTyped(type, value);
}

// Type numbers from the spec; 8 and above are "extended" types written as 0 plus an extra type byte.
const T_POINTER = 1;
const T_UTF8 = 2;
const T_DOUBLE = 3;
const T_BYTES = 4;
const T_UINT16 = 5;
const T_UINT32 = 6;
const T_MAP = 7;
const T_INT32 = 8;
const T_UINT64 = 9;
const T_UINT128 = 10;
const T_ARRAY = 11;
const T_BOOLEAN = 14;
const T_FLOAT = 15;

const UINT_TYPES = {
  uint16: { type: T_UINT16, max: 2n ** 16n - 1n },
  uint32: { type: T_UINT32, max: 2n ** 32n - 1n },
  uint64: { type: T_UINT64, max: 2n ** 64n - 1n },
  uint128: { type: T_UINT128, max: 2n ** 128n - 1n },
} as const;

const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;

/** Control byte(s) for a field: 3 type bits + 5 size bits, the extended type byte, then size extension bytes. */
function controlBytes(type: number, size: number): number[] {
  let sizeBits: number;
  let extension: number[];
  if (size < 29) {
    sizeBits = size;
    extension = [];
  } else if (size < 285) {
    sizeBits = 29;
    extension = [size - 29];
  } else if (size < 65_821) {
    sizeBits = 30;
    const v = size - 285;
    extension = [v >> 8, v & 0xff];
  } else if (size < 65_821 + 2 ** 24) {
    sizeBits = 31;
    const v = size - 65_821;
    extension = [(v >> 16) & 0xff, (v >> 8) & 0xff, v & 0xff];
  } else {
    throw new RangeError(`mmdb field too large: ${size} (max ${65_821 + 2 ** 24 - 1})`);
  }
  const head = type <= 7 ? [(type << 5) | sizeBits] : [sizeBits, type - 7];
  return [...head, ...extension];
}

/** Minimal big-endian bytes of a non-negative integer (zero has no bytes, as the spec allows). */
function uintBytes(value: bigint): number[] {
  const out: number[] = [];
  for (let v = value; v > 0n; v >>= 8n) out.unshift(Number(v & 0xffn));
  return out;
}

function encodeUint(kind: keyof typeof UINT_TYPES, value: number | bigint): Buffer {
  if (typeof value === "number" && !Number.isInteger(value)) {
    throw new RangeError(`${kind} needs an integer, got ${value}`);
  }
  const v = BigInt(value);
  const { type, max } = UINT_TYPES[kind];
  if (v < 0n || v > max) throw new RangeError(`${value} does not fit in ${kind}`);
  const bytes = uintBytes(v);
  return Buffer.from([...controlBytes(type, bytes.length), ...bytes]);
}

function encodeInt32(value: number): Buffer {
  if (!Number.isInteger(value) || value < INT32_MIN || value > INT32_MAX) {
    throw new RangeError(`${value} does not fit in int32`);
  }
  // mmdb-lib reads int32 fields shorter than 4 bytes as unsigned, so negatives always take all 4 bytes.
  if (value < 0) {
    const body = Buffer.alloc(4);
    body.writeInt32BE(value);
    return Buffer.concat([Buffer.from(controlBytes(T_INT32, 4)), body]);
  }
  const bytes = uintBytes(BigInt(value));
  return Buffer.from([...controlBytes(T_INT32, bytes.length), ...bytes]);
}

function encodeDouble(value: number): Buffer {
  const body = Buffer.alloc(8);
  body.writeDoubleBE(value);
  return Buffer.concat([Buffer.from(controlBytes(T_DOUBLE, 8)), body]);
}

function encodeFloat(value: number): Buffer {
  const body = Buffer.alloc(4);
  body.writeFloatBE(value);
  return Buffer.concat([Buffer.from(controlBytes(T_FLOAT, 4)), body]);
}

function encodeNumber(value: number): Buffer {
  if (!Number.isInteger(value)) return encodeDouble(value);
  if (value < 0) return encodeInt32(value);
  if (value <= 0xffff_ffff) return encodeUint("uint32", value);
  return encodeUint(value < 2 ** 64 ? "uint64" : "uint128", value);
}

function encodeBigint(value: bigint): Buffer {
  return encodeUint(value <= UINT_TYPES.uint64.max ? "uint64" : "uint128", value);
}

function encodeTyped(value: MmdbTyped): Buffer {
  const { type, value: v } = value;
  if (type === "bytes") {
    if (!(v instanceof Uint8Array)) throw new TypeError("bytes needs a Uint8Array");
    return Buffer.concat([Buffer.from(controlBytes(T_BYTES, v.length)), v]);
  }
  if (v instanceof Uint8Array) throw new TypeError(`${type} needs a number or bigint`);
  switch (type) {
    case "double":
      return encodeDouble(Number(v));
    case "float":
      return encodeFloat(Number(v));
    case "int32":
      return encodeInt32(Number(v));
    default:
      return encodeUint(type, v);
  }
}

/**
 * Pointer to a data-section offset. Control byte `001SSVVV`: SS picks 1-4 following bytes, VVV are the
 * value's top bits (ignored for SS = 3), and the 2- and 3-byte forms are biased past the smaller ones.
 */
function encodePointer(offset: number): Buffer {
  const control = (sizeBits: number, topBits: number): number => (T_POINTER << 5) | (sizeBits << 3) | topBits;
  if (offset < 2048) return Buffer.from([control(0, offset >> 8), offset & 0xff]);
  if (offset < 526_336) {
    const v = offset - 2048;
    return Buffer.from([control(1, v >> 16), (v >> 8) & 0xff, v & 0xff]);
  }
  if (offset < 526_336 + 2 ** 27) {
    const v = offset - 526_336;
    return Buffer.from([control(2, v >> 24), (v >> 16) & 0xff, (v >> 8) & 0xff, v & 0xff]);
  }
  const body = Buffer.alloc(5);
  body[0] = control(3, 0);
  body.writeUInt32BE(offset, 1);
  return body;
}

function isMap(value: MmdbValue): value is { [key: string]: MmdbValue } {
  return (
    typeof value === "object" &&
    value !== null &&
    !Array.isArray(value) &&
    !(value instanceof Uint8Array) &&
    !(value instanceof MmdbTyped)
  );
}

/** A string identifying a value *and the type it will be encoded as*, for deduplication. */
function canonicalKey(value: MmdbValue): string {
  switch (typeof value) {
    case "string":
      return `s${JSON.stringify(value)}`;
    case "number":
      return `n${value}`;
    case "bigint":
      return `B${value}`;
    case "boolean":
      return value ? "b1" : "b0";
  }
  if (value instanceof MmdbTyped) {
    const v = value.value;
    return `t${value.type}:${v instanceof Uint8Array ? Buffer.from(v).toString("hex") : String(v)}`;
  }
  if (value instanceof Uint8Array) return `x${Buffer.from(value).toString("hex")}`;
  if (Array.isArray(value)) return `[${value.map(canonicalKey).join(",")}]`;
  if (isMap(value)) {
    return `{${Object.entries(value)
      .map(([k, v]) => `${JSON.stringify(k)}:${canonicalKey(v)}`)
      .join(",")}}`;
  }
  throw new TypeError(`unsupported mmdb value: ${String(value)}`);
}

/**
 * Appends encoded values and, when `pointers` is on, replaces any string, map or array already written
 * with a pointer to its first copy (as MaxMind's own writers do), which also exercises the readers'
 * pointer decoding. Offsets are relative to the start of this section, which is what pointers use.
 */
class SectionWriter {
  private readonly chunks: Buffer[] = [];
  private size = 0;
  private readonly written = new Map<string, number>();

  constructor(private readonly pointers: boolean) {}

  /** Writes a top-level value (never as a bare pointer) and returns its offset; identical values share one. */
  writeRecord(value: MmdbValue): number {
    const key = canonicalKey(value);
    const existing = this.written.get(key);
    if (existing !== undefined) return existing;
    const offset = this.size;
    this.encode(value, false);
    return offset;
  }

  toBuffer(): Buffer {
    return Buffer.concat(this.chunks, this.size);
  }

  private push(bytes: Buffer | number[]): void {
    const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes);
    this.chunks.push(buf);
    this.size += buf.length;
  }

  private encode(value: MmdbValue, allowPointer: boolean): void {
    const dedupable = this.pointers && (typeof value === "string" || Array.isArray(value) || isMap(value));
    const key = dedupable ? canonicalKey(value) : undefined;
    if (key !== undefined && allowPointer) {
      const previous = this.written.get(key);
      if (previous !== undefined) {
        const pointer = encodePointer(previous);
        // A pointer to a short string can be longer than the string itself; containers always gain.
        const inline = typeof value === "string" ? 1 + Buffer.byteLength(value) : Number.POSITIVE_INFINITY;
        if (pointer.length < inline) {
          this.push(pointer);
          return;
        }
      }
    }
    const offset = this.size;
    this.encodeInline(value);
    if (key !== undefined && !this.written.has(key)) this.written.set(key, offset);
  }

  private encodeInline(value: MmdbValue): void {
    switch (typeof value) {
      case "string": {
        const bytes = Buffer.from(value, "utf8");
        this.push(controlBytes(T_UTF8, bytes.length));
        this.push(bytes);
        return;
      }
      case "number":
        this.push(encodeNumber(value));
        return;
      case "bigint":
        this.push(encodeBigint(value));
        return;
      case "boolean":
        // Booleans keep their value in the size bits and have no payload.
        this.push(controlBytes(T_BOOLEAN, value ? 1 : 0));
        return;
    }
    if (value instanceof MmdbTyped) {
      this.push(encodeTyped(value));
    } else if (value instanceof Uint8Array) {
      this.push(controlBytes(T_BYTES, value.length));
      this.push(Buffer.from(value));
    } else if (Array.isArray(value)) {
      this.push(controlBytes(T_ARRAY, value.length));
      for (const item of value) this.encode(item, true);
    } else if (isMap(value)) {
      const entries = Object.entries(value);
      this.push(controlBytes(T_MAP, entries.length));
      for (const [k, v] of entries) {
        if (v === undefined) throw new TypeError(`mmdb map key "${k}" has an undefined value`);
        this.encode(k, true);
        this.encode(v, true);
      }
    } else {
      throw new TypeError(`unsupported mmdb value: ${String(value)}`);
    }
  }
}

// ---------------------------------------------------------------------------------------------------
// Search tree
// ---------------------------------------------------------------------------------------------------

interface TreeNode {
  children: [TreeRecord, TreeRecord];
}

type TreeRecord = { kind: "empty" } | { kind: "data"; offset: number } | { kind: "node"; node: TreeNode };

const EMPTY: TreeRecord = { kind: "empty" };

function bitAt(bytes: readonly number[], index: number): 0 | 1 {
  const byte = bytes[index >> 3] ?? 0;
  return ((byte >> (7 - (index & 7))) & 1) as 0 | 1;
}

/** Sets the record for `bytes/prefixLength`, splitting leaves on the way so their data covers the rest. */
function insert(root: TreeNode, bytes: readonly number[], prefixLength: number, record: TreeRecord): void {
  if (prefixLength === 0) {
    root.children = [record, record];
    return;
  }
  let node = root;
  for (let depth = 0; depth < prefixLength - 1; depth++) {
    const bit = bitAt(bytes, depth);
    const child = node.children[bit];
    if (child.kind === "node") {
      node = child.node;
    } else {
      const next: TreeNode = { children: [child, child] };
      node.children[bit] = { kind: "node", node: next };
      node = next;
    }
  }
  node.children[bitAt(bytes, prefixLength - 1)] = record;
}

/** The record covering `bytes/prefixLength` without modifying the tree (a leaf above it, or the subtree). */
function lookup(root: TreeNode, bytes: readonly number[], prefixLength: number): TreeRecord {
  let current: TreeRecord = { kind: "node", node: root };
  for (let depth = 0; depth < prefixLength && current.kind === "node"; depth++) {
    current = current.node.children[bitAt(bytes, depth)];
  }
  return current;
}

/** Node numbers in breadth-first order; a shared (aliased) subtree is numbered once. */
function numberNodes(root: TreeNode): { nodes: TreeNode[]; index: Map<TreeNode, number> } {
  const nodes: TreeNode[] = [root];
  const index = new Map<TreeNode, number>([[root, 0]]);
  for (let i = 0; i < nodes.length; i++) {
    const node = nodes[i] as TreeNode;
    for (const child of node.children) {
      if (child.kind === "node" && !index.has(child.node)) {
        index.set(child.node, nodes.length);
        nodes.push(child.node);
      }
    }
  }
  return { nodes, index };
}

function writeNode(out: Buffer, at: number, recordSize: 24 | 28 | 32, left: number, right: number): void {
  switch (recordSize) {
    case 24:
      out.writeUIntBE(left, at, 3);
      out.writeUIntBE(right, at + 3, 3);
      return;
    case 28:
      // The middle byte holds the top nibble of each record: left's in the high half, right's in the low.
      out.writeUIntBE(left & 0xff_ffff, at, 3);
      out[at + 3] = ((left >>> 24) << 4) | (right >>> 24);
      out.writeUIntBE(right & 0xff_ffff, at + 4, 3);
      return;
    case 32:
      out.writeUInt32BE(left, at);
      out.writeUInt32BE(right, at + 4);
      return;
  }
}

// ---------------------------------------------------------------------------------------------------
// Networks
// ---------------------------------------------------------------------------------------------------

const IPV4_MAPPED_PREFIX = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff];
const IPV4_IN_IPV6_PREFIX = new Array<number>(12).fill(0);

interface ParsedNetwork {
  /** Address bytes in the tree's family: 4 for an IPv4 tree, 16 for an IPv6 tree. */
  bytes: number[];
  prefixLength: number;
}

/** Parses `a.b.c.d/n`, `x::/n` or a bare address (a host route) into the tree's address family. */
function parseNetwork(cidr: string, ipVersion: 4 | 6): ParsedNetwork {
  let address: ipaddr.IPv4 | ipaddr.IPv6;
  let prefixLength: number;
  try {
    if (cidr.includes("/")) {
      [address, prefixLength] = ipaddr.parseCIDR(cidr);
    } else {
      address = ipaddr.parse(cidr);
      prefixLength = address.kind() === "ipv4" ? 32 : 128;
    }
  } catch {
    throw new Error(`invalid network: ${cidr}`);
  }
  // `::ffff:a.b.c.d/n` (n >= 96) is an IPv4 network spelled in IPv6; store it where IPv4 lives.
  if (address.kind() === "ipv6" && prefixLength >= 96 && (address as ipaddr.IPv6).isIPv4MappedAddress()) {
    address = (address as ipaddr.IPv6).toIPv4Address();
    prefixLength -= 96;
  }
  const bytes = address.toByteArray();
  if (address.kind() === "ipv4") {
    // IPv4 in an IPv6 tree lives in ::a.b.c.d/96+n; mmdb-lib and libmaxminddb find it by walking 96 zero bits.
    return ipVersion === 4
      ? { bytes, prefixLength }
      : { bytes: [...IPV4_IN_IPV6_PREFIX, ...bytes], prefixLength: prefixLength + 96 };
  }
  if (ipVersion === 4) throw new Error(`IPv6 network ${cidr} cannot go in an IPv4 database`);
  return { bytes, prefixLength };
}

// ---------------------------------------------------------------------------------------------------
// The writer
// ---------------------------------------------------------------------------------------------------

export interface MmdbNetwork {
  /** `1.2.3.0/24`, `2001:db8::/32`, `::ffff:1.2.3.0/120` (stored as IPv4), or a bare address (host route). */
  cidr: string;
  data: Record<string, MmdbValue>;
}

export interface WriteMmdbOptions {
  /** e.g. `GeoIP2-City`, `GeoIP2-Country`; `@maxmind/geoip2-node` picks allowed methods by substring. */
  databaseType: string;
  ipVersion: 4 | 6;
  /** Bits per search-tree record. Default 28. */
  recordSize?: 24 | 28 | 32;
  /** Seconds since the epoch. Default: now. */
  buildEpoch?: number;
  /** Default `["en"]`. */
  languages?: string[];
  /** Language -> description. Default `{ en: "<databaseType> test fixture" }`. */
  description?: Record<string, string>;
  /**
   * IPv6 databases only: also route `::ffff:0:0/96` to the IPv4 subtree (default true), as MaxMind's
   * databases do, so `::ffff:1.2.3.4` finds what `1.2.3.4` finds.
   */
  aliasIpv4Mapped?: boolean;
  /**
   * Order does not matter for overlaps: a more specific network always wins inside its range (networks
   * are inserted shortest prefix first); for the same network given twice, the later one wins.
   *
   * Prefix lengths the readers report are those of the tree leaf reached. Outside a carved-out network
   * that is the leftover block, e.g. 10.0.0.0/8 with 10.1.0.0/16 inside reports 10.0.0.0/16 for 10.0.0.1,
   * as real MaxMind databases do. Adjacent networks with equal data are not merged.
   */
  networks: MmdbNetwork[];
}

const METADATA_MARKER = Buffer.from("abcdef4d61784d696e642e636f6d", "hex"); // "\xAB\xCD\xEFMaxMind.com"
const DATA_SECTION_SEPARATOR = Buffer.alloc(16);

/** Builds a complete `.mmdb` file in memory. Throws if a network is invalid or records overflow `recordSize`. */
export function writeMmdb(opts: WriteMmdbOptions): Buffer {
  const recordSize = opts.recordSize ?? 28;
  const { ipVersion } = opts;

  // Data first, in the order given, so a record's offset is known before the tree refers to it.
  const data = new SectionWriter(true);
  const entries = opts.networks.map((network, order) => ({
    ...parseNetwork(network.cidr, ipVersion),
    offset: data.writeRecord(network.data),
    order,
  }));
  entries.sort((a, b) => a.prefixLength - b.prefixLength || a.order - b.order);

  const root: TreeNode = { children: [EMPTY, EMPTY] };
  for (const entry of entries) {
    insert(root, entry.bytes, entry.prefixLength, { kind: "data", offset: entry.offset });
  }

  if (ipVersion === 6 && (opts.aliasIpv4Mapped ?? true)) {
    const ipv4Root = lookup(root, [...IPV4_IN_IPV6_PREFIX, 0, 0, 0, 0], 96);
    // Shares the subtree (the tree becomes a DAG, like MaxMind's aliases) rather than copying it.
    if (ipv4Root.kind !== "empty") insert(root, [...IPV4_MAPPED_PREFIX, 0, 0, 0, 0], 96, ipv4Root);
  }

  const { nodes, index } = numberNodes(root);
  const nodeCount = nodes.length;
  const dataSection = data.toBuffer();
  const maxRecord = 2 ** recordSize - 1;
  if (nodeCount + DATA_SECTION_SEPARATOR.length + dataSection.length > maxRecord) {
    throw new RangeError(
      `${nodeCount} nodes and ${dataSection.length} bytes of data do not fit ${recordSize}-bit records`,
    );
  }
  const recordValue = (record: TreeRecord): number => {
    switch (record.kind) {
      case "empty":
        return nodeCount;
      case "data":
        return nodeCount + DATA_SECTION_SEPARATOR.length + record.offset;
      case "node":
        return index.get(record.node) as number;
    }
  };

  const nodeBytes = recordSize / 4;
  const tree = Buffer.alloc(nodeCount * nodeBytes);
  nodes.forEach((node, i) => {
    writeNode(tree, i * nodeBytes, recordSize, recordValue(node.children[0]), recordValue(node.children[1]));
  });

  const metadata = new SectionWriter(false);
  metadata.writeRecord({
    binary_format_major_version: typed("uint16", 2),
    binary_format_minor_version: typed("uint16", 0),
    build_epoch: typed("uint64", opts.buildEpoch ?? Math.floor(Date.now() / 1000)),
    database_type: opts.databaseType,
    description: opts.description ?? { en: `${opts.databaseType} test fixture` },
    ip_version: typed("uint16", ipVersion),
    languages: opts.languages ?? ["en"],
    node_count: typed("uint32", nodeCount),
    record_size: typed("uint16", recordSize),
  });

  return Buffer.concat([tree, DATA_SECTION_SEPARATOR, dataSection, METADATA_MARKER, metadata.toBuffer()]);
}

/** {@link writeMmdb} to a file, creating its directory. */
export function writeMmdbFile(path: string, opts: WriteMmdbOptions): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, writeMmdb(opts));
}

// ---------------------------------------------------------------------------------------------------
// GeoIP2-shaped records
// ---------------------------------------------------------------------------------------------------

type Names = Record<string, string>;

const CONTINENTS: Record<string, { geonameId: number; name: string; countries: string }> = {
  AF: {
    geonameId: 6255146,
    name: "Africa",
    countries:
      "AO BF BI BJ BW CD CF CG CI CM CV DJ DZ EG EH ER ET GA GH GM GN GQ GW KE KM LR LS LY MA MG ML MR MU MW MZ " +
      "NA NE NG RE RW SC SD SH SL SN SO SS ST SZ TD TG TN TZ UG YT ZA ZM ZW",
  },
  AN: { geonameId: 6255152, name: "Antarctica", countries: "AQ BV GS HM TF" },
  AS: {
    geonameId: 6255147,
    name: "Asia",
    countries:
      "AE AF AM AZ BD BH BN BT CC CN CX GE HK ID IL IN IO IQ IR JO JP KG KH KP KR KW KZ LA LB LK MM MN MO MV " +
      "MY NP OM PH PK PS QA SA SG SY TH TJ TL TM TR TW UZ VN YE",
  },
  EU: {
    geonameId: 6255148,
    name: "Europe",
    countries:
      "AD AL AT AX BA BE BG BY CH CY CZ DE DK EE ES FI FO FR GB GG GI GR HR HU IE IM IS IT JE LI LT LU LV MC " +
      "MD ME MK MT NL NO PL PT RO RS RU SE SI SJ SK SM UA VA XK",
  },
  NA: {
    geonameId: 6255149,
    name: "North America",
    countries:
      "AG AI AW BB BL BM BQ BS BZ CA CR CU CW DM DO GD GL GP GT HN HT JM KN KY LC MF MQ MS MX NI PA PM PR SV " +
      "SX TC TT US VC VG VI",
  },
  OC: {
    geonameId: 6255151,
    name: "Oceania",
    countries: "AS AU CK FJ FM GU KI MH MP NC NF NR NU NZ PF PG PN PW SB TK TO TV UM VU WF WS",
  },
  SA: { geonameId: 6255150, name: "South America", countries: "AR BO BR CL CO EC FK GF GY PE PY SR UY VE" },
};

const CONTINENT_OF: ReadonlyMap<string, string> = new Map(
  Object.entries(CONTINENTS).flatMap(([code, c]) => c.countries.split(" ").map((cc) => [cc, code] as const)),
);

const EU_MEMBERS = new Set(
  "AT BE BG CY CZ DE DK EE ES FI FR GR HR HU IE IT LT LU LV MT NL PL PT RO SE SI SK".split(" "),
);

const COUNTRY_NAMES: ReadonlyMap<string, string> = new Map(iso31661.map((c) => [c.alpha2, c.name]));
const SUBDIVISION_NAMES: ReadonlyMap<string, string> = new Map(iso31662.map((s) => [s.code, s.name]));

/** A stable stand-in for a GeoNames id (FNV-1a), so fixtures are deterministic; not the real ids. */
function fakeGeonameId(kind: string, code: string): number {
  let hash = 0x811c9dc5;
  for (const ch of `${kind}:${code}`) {
    hash ^= ch.codePointAt(0) ?? 0;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return (hash % 9_000_000) + 1_000_000;
}

function continentBlock(country: string, continent?: string, names?: Names): Record<string, MmdbValue> {
  const code = continent ?? CONTINENT_OF.get(country);
  if (code === undefined) throw new Error(`no continent known for ${country}; pass one explicitly`);
  const known = CONTINENTS[code];
  return {
    code,
    geoname_id: known?.geonameId ?? fakeGeonameId("continent", code),
    names: { en: known?.name ?? code, ...names },
  };
}

function countryBlock(country: string, names?: Names): Record<string, MmdbValue> {
  return {
    geoname_id: fakeGeonameId("country", country),
    // GeoIP2 only writes the flag when it is true.
    ...(EU_MEMBERS.has(country) ? { is_in_european_union: true } : {}),
    iso_code: country,
    names: { en: COUNTRY_NAMES.get(country) ?? country, ...names },
  };
}

export interface CountryRecordOptions {
  /** Continent code (AF AN AS EU NA OC SA); derived from the country by default. */
  continent?: string;
  /** Country of registration, if it differs from where the address is. */
  registeredCountry?: string;
  names?: { continent?: Names; country?: Names };
}

/** A GeoIP2-Country-shaped record for an ISO 3166-1 alpha-2 code. */
export function countryRecord(country: string, opts: CountryRecordOptions = {}): Record<string, MmdbValue> {
  return {
    continent: continentBlock(country, opts.continent, opts.names?.continent),
    country: countryBlock(country, opts.names?.country),
    registered_country: countryBlock(opts.registeredCountry ?? country),
  };
}

export interface CityRecordOptions extends CountryRecordOptions {
  /** ISO 3166-1 alpha-2, e.g. `IN`. */
  country: string;
  /** Full ISO 3166-2 codes, most general first as GeoIP2 orders them, e.g. `["ES-CT", "ES-B"]`. */
  subdivisions?: string[];
  /** English city name. */
  city?: string;
  postalCode?: string;
  location?: { latitude: number; longitude: number; accuracyRadius?: number; timeZone?: string };
  names?: { continent?: Names; country?: Names; city?: Names; subdivisions?: Names[] };
}

/**
 * A GeoIP2-City-shaped record. Subdivision `iso_code`s are the part after the dash (`IN-MH` -> `MH`), as
 * GeoIP2 writes them; English names come from ISO 3166 unless overridden in `names`.
 */
export function cityRecord(opts: CityRecordOptions): Record<string, MmdbValue> {
  const { country } = opts;
  const location = opts.location ?? { latitude: 0, longitude: 0 };
  const record: Record<string, MmdbValue> = {
    ...(opts.city === undefined
      ? {}
      : {
          city: {
            geoname_id: fakeGeonameId("city", `${country}:${opts.city}`),
            names: { en: opts.city, ...opts.names?.city },
          },
        }),
    ...countryRecord(country, opts),
    location: {
      accuracy_radius: typed("uint16", location.accuracyRadius ?? 100),
      // Whole-number coordinates would otherwise be inferred as integers; GeoIP2 stores doubles.
      latitude: typed("double", location.latitude),
      longitude: typed("double", location.longitude),
      ...(location.timeZone === undefined ? {} : { time_zone: location.timeZone }),
    },
  };
  if (opts.postalCode !== undefined) record.postal = { code: opts.postalCode };
  if (opts.subdivisions !== undefined && opts.subdivisions.length > 0) {
    record.subdivisions = opts.subdivisions.map((code, i) => ({
      geoname_id: fakeGeonameId("subdivision", code),
      iso_code: code.slice(code.indexOf("-") + 1),
      names: { en: SUBDIVISION_NAMES.get(code) ?? code, ...opts.names?.subdivisions?.[i] },
    }));
  }
  return record;
}

/** The record shape of `@ip-location-db/geolite2-country-mmdb`: just the alpha-2 code. */
export function ipLocationDbRecord(country: string): Record<string, MmdbValue> {
  return { country_code: country };
}
