/**
 * A month's distinct meetings and participants on disk: `<dir>/months/<month>.sets`, beside the month's
 * counts (`<month>.json`, aggregate-store.ts), appended at each batch with only the members that batch
 * added. The counts file names how many of its bytes it counts (`setsBytes`): bytes past that (a torn
 * append, or one whose counts file was never renamed) are not part of the month; they are cut off before
 * the next append.
 *
 * The bytes are a sequence of blocks, each one bucket's new members of one kind (all integers
 * little-endian, strings UTF-8):
 *
 *   u8  bucket kind: 0 byJurisdiction, 1 byOrder
 *   u8  set: 0 meetings, 1 participants, 2 meetings hosted inside, 3 meetings hosted outside (per order)
 *   u8  form: 0 hashes (32 bytes each: a value of 64 lowercase hex characters), 1 strings
 *   u32 key length, key             the jurisdiction or order id
 *   u32 count, members              hashes: count x 32 bytes; strings: each u32 length, then its bytes
 */
import { Buffer } from "node:buffer";
import { HASH_BYTES, type MemberSet } from "./member-set.js";

export type BucketKind = "byJurisdiction" | "byOrder";
export type SetName = "meetings" | "participants" | "hostedInside" | "hostedOutside";

const KINDS: readonly BucketKind[] = ["byJurisdiction", "byOrder"];
const SETS: readonly SetName[] = ["meetings", "participants", "hostedInside", "hostedOutside"];
const HASHES = 0;
const STRINGS = 1;

/** What `encodeUnsaved` needs of a bucket. */
export interface SetsOf {
  meetings: MemberSet;
  participants: MemberSet;
  hostedInside: MemberSet;
  hostedOutside: MemberSet;
}

/** The blocks that add every bucket's unsaved members; empty when there are none. */
export function encodeUnsaved(buckets: Record<BucketKind, ReadonlyMap<string, SetsOf>>): Buffer {
  const parts: Buffer[] = [];
  for (const [k, kind] of KINDS.entries()) {
    for (const [key, bucket] of buckets[kind]) {
      for (const [s, set] of SETS.entries()) {
        const members = bucket[set];
        if (!members.hasUnsaved) continue;
        const { hashes, strings } = members.unsaved();
        if (hashes.length > 0) {
          parts.push(header(k, s, HASHES, key, hashes.length / HASH_BYTES), hashes);
        }
        if (strings.length > 0) {
          parts.push(header(k, s, STRINGS, key, strings.length));
          for (const value of strings) {
            const bytes = Buffer.from(value, "utf8");
            parts.push(u32(bytes.length), bytes);
          }
        }
      }
    }
  }
  return Buffer.concat(parts);
}

function header(kind: number, set: number, form: number, key: string, count: number): Buffer {
  const keyBytes = Buffer.from(key, "utf8");
  const out = Buffer.allocUnsafe(3 + 4 + keyBytes.length + 4);
  out.writeUInt8(kind, 0);
  out.writeUInt8(set, 1);
  out.writeUInt8(form, 2);
  out.writeUInt32LE(keyBytes.length, 3);
  keyBytes.copy(out, 7);
  out.writeUInt32LE(count, 7 + keyBytes.length);
  return out;
}

function u32(n: number): Buffer {
  const out = Buffer.allocUnsafe(4);
  out.writeUInt32LE(n, 0);
  return out;
}

/**
 * Reads blocks, handing each bucket's members to `into` (which finds the bucket). Throws on bytes that
 * are not whole blocks: what it is given is what a counts file counts, written and synced before it.
 */
export function decodeSets(bytes: Buffer, into: (kind: BucketKind, key: string) => SetsOf | undefined): void {
  let at = 0;
  const need = (n: number) => {
    if (at + n > bytes.length) throw new Error(`a block ends past the counted bytes (at ${at})`);
  };
  while (at < bytes.length) {
    need(7);
    const kind = KINDS[bytes.readUInt8(at)];
    const set = SETS[bytes.readUInt8(at + 1)];
    const form = bytes.readUInt8(at + 2);
    const keyLength = bytes.readUInt32LE(at + 3);
    if (kind === undefined || set === undefined || (form !== HASHES && form !== STRINGS)) {
      throw new Error(`not a block (at ${at})`);
    }
    at += 7;
    need(keyLength + 4);
    const key = bytes.toString("utf8", at, at + keyLength);
    at += keyLength;
    const count = bytes.readUInt32LE(at);
    at += 4;
    const bucket = into(kind, key);
    if (bucket === undefined) throw new Error(`members of ${kind} ${key}, which the month does not count`);
    const members = bucket[set];
    if (form === HASHES) {
      need(count * HASH_BYTES);
      members.addPacked(bytes.subarray(at, at + count * HASH_BYTES));
      at += count * HASH_BYTES;
    } else {
      for (let i = 0; i < count; i++) {
        need(4);
        const length = bytes.readUInt32LE(at);
        at += 4;
        need(length);
        members.addString(bytes.toString("utf8", at, at + length));
        at += length;
      }
    }
  }
}
