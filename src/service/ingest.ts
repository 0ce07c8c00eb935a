/**
 * Decision records made at the edge joining Node's decision log (`POST /v1/decisions/ingest`): each
 * record is judged on its own and either accepted (stored once, its `ipHash` sealed), skipped (stored
 * before, identically) or refused with a code, never stored. The rules are DESIGN's "Ingest"; the
 * identity of a record and the edge's id namespace are `store/ingest-index.ts`'s.
 */
import { z } from "zod";
import { AccountId, CountryCode, type DecisionRecord, Jurisdiction, MeetingId } from "../engine/index.js";
import { ipPrefix, parseIp } from "../geo/ip.js";
import type { Clock } from "../kernel/runtime.js";
import {
  type IngestEntry,
  type IngestIndex,
  isEdgeDecisionId,
  monthOf,
  recordDigest,
} from "../store/ingest-index.js";
import type { DecisionSink, OrderStore } from "../store/interface.js";

export const RefusalCode = z
  .enum([
    "NOT_EDGE_ID",
    "ID_CONFLICT",
    "BAD_TIME",
    "TOO_OLD",
    "TOO_FAR_AHEAD",
    "PERIOD_FINALIZED",
    "BAD_IP_PREFIX",
    "BAD_IP_HASH",
    "BAD_PHONE_CODE",
    "BAD_ACCOUNT_ID",
    "BAD_MEETING_ID",
    "BAD_LOCATION",
    "UNKNOWN_ORDER",
  ])
  .meta({
    id: "IngestRefusalCode",
    description:
      "Why a record was refused. Only TOO_FAR_AHEAD can pass later (the edge's clock runs ahead of Node's); every other refusal is final.",
  });
export type RefusalCode = z.infer<typeof RefusalCode>;

export interface Refusal {
  index: number;
  code: RefusalCode;
  message: string;
}

export interface IngestResult {
  accepted: number;
  skipped: number;
  refused: Refusal[];
}

/** How old a record may be: the Queue's retries and the dead-letter replay fit well inside it. */
export const MAX_AGE_MS = 14 * 24 * 3600 * 1000;
/** How far ahead of Node's clock a record may be: clock skew, not a record from the future. */
export const MAX_AHEAD_MS = 5 * 60 * 1000;

export interface IngestDeps {
  index: IngestIndex;
  decisions: DecisionSink;
  orders: Pick<OrderStore, "getOrder">;
  /** Whether the report period holding `at` is finalized (I9): its numbers no longer take records. */
  isFinalized: (at: string) => Promise<boolean>;
  /** I6: the edge's hash (under CORDON_IP_HASH_KEY) sealed as Node's own records are, for `at`. */
  sealEdgeHash: (hash: string, at: string) => string;
  clock: Clock;
}

export class EdgeIngest {
  // One delivery at a time per instance: the file index keeps its claims for this process alone, and
  // a delivery's order lookups and finalized periods are read once for all of its records.
  #queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly deps: IngestDeps) {}

  ingest(records: readonly DecisionRecord[]): Promise<IngestResult> {
    const run = this.#queue.then(() => this.#ingest(records));
    this.#queue = run.catch(() => undefined);
    return run;
  }

  async #ingest(records: readonly DecisionRecord[]): Promise<IngestResult> {
    const { deps } = this;
    const now = deps.clock();
    const refused: Refusal[] = [];
    const refuse = (index: number, code: RefusalCode, message: string) => {
      refused.push({ index, code, message });
    };
    const orderKnown = memo((id: string) => deps.orders.getOrder(id).then((o) => o !== undefined));
    // Periods are whole UTC months or unions of them: one answer per month.
    const finalizedMonths = new Map<string, Promise<boolean>>();
    const finalized = (at: string) => {
      let answer = finalizedMonths.get(monthOf(at));
      if (!answer) {
        answer = deps.isFinalized(at);
        finalizedMonths.set(monthOf(at), answer);
      }
      return answer;
    };

    // The rules each record must pass on its own, then the duplicates inside this delivery.
    const candidates: { index: number; record: DecisionRecord; entry: IngestEntry }[] = [];
    const inDelivery = new Map<string, string>();
    let skipped = 0;
    for (const [index, record] of records.entries()) {
      const problem = checkRecord(record, now);
      if (problem) {
        refuse(index, problem[0], problem[1]);
        continue;
      }
      if (await finalized(record.at)) {
        refuse(index, "PERIOD_FINALIZED", `at: the report period of ${record.at} is finalized`);
        continue;
      }
      const unknown: string[] = [];
      for (const id of record.orderIds) if (!(await orderKnown(id))) unknown.push(id);
      if (unknown.length > 0) {
        refuse(index, "UNKNOWN_ORDER", `orderIds: no order ${unknown.join(", ")}`);
        continue;
      }
      const digest = recordDigest(record);
      const earlier = inDelivery.get(record.decisionId);
      if (earlier === digest) {
        skipped++;
        continue;
      }
      if (earlier !== undefined) {
        refuse(
          index,
          "ID_CONFLICT",
          "decisionId: an earlier record of this delivery has it, with other content",
        );
        continue;
      }
      inDelivery.set(record.decisionId, digest);
      candidates.push({ index, record, entry: { decisionId: record.decisionId, at: record.at, digest } });
    }

    const claims = await deps.index.claim(candidates.map((c) => c.entry));
    const fresh: typeof candidates = [];
    candidates.forEach((candidate, i) => {
      const claim = claims[i];
      if (claim === "new") fresh.push(candidate);
      else if (claim === "same") skipped++;
      else refuse(candidate.index, "ID_CONFLICT", "decisionId: already stored, with other content");
    });
    if (fresh.length > 0) {
      await deps.decisions.append(
        fresh.map(({ record }) =>
          record.ipHash === null
            ? record
            : { ...record, ipHash: deps.sealEdgeHash(record.ipHash, record.at) },
        ),
      );
      await deps.index.confirm(fresh.map((c) => c.entry));
    }
    refused.sort((a, b) => a.index - b.index);
    return { accepted: fresh.length, skipped, refused };
  }
}

const HASH = /^[0-9a-f]{64}$/;
/** A country calling code as a record keeps it: `+1`, `+7`, `+358`. */
const CALLING_CODE = /^\+[1-9][0-9]{0,2}$/;

/** The first rule `record` breaks on its own (no store needed), as a code and a message naming the field. */
function checkRecord(record: DecisionRecord, now: number): [RefusalCode, string] | undefined {
  if (!isEdgeDecisionId(record.decisionId))
    return ["NOT_EDGE_ID", "decisionId: not an id the edge makes (a version-8 UUID)"];
  const at = Date.parse(record.at);
  if (Number.isNaN(at) || new Date(at).toISOString() !== record.at)
    return ["BAD_TIME", "at: must be an instant as the edge writes it (2026-03-01T10:00:00.000Z)"];
  if (now - at > MAX_AGE_MS) return ["TOO_OLD", "at: more than 14 days ago"];
  if (at - now > MAX_AHEAD_MS) return ["TOO_FAR_AHEAD", "at: more than 5 minutes ahead of this clock"];
  const phoneCode = record.phoneCountryCode ?? null;
  if (phoneCode !== null || record.geoSource === "phone") {
    // A dial-in caller: the calling code stands where an address's network would (I6).
    if (record.ipPrefix !== null)
      return ["BAD_IP_PREFIX", "ipPrefix: must be null for a dial-in caller (phoneCountryCode is set)"];
    if (record.geoSource !== "phone" || (phoneCode !== null && !CALLING_CODE.test(phoneCode)))
      return [
        "BAD_PHONE_CODE",
        "phoneCountryCode: must be a country calling code such as +7 (1 to 3 digits), with geoSource phone",
      ];
    if (record.ipHash !== null && !HASH.test(record.ipHash))
      return ["BAD_IP_HASH", "ipHash: must be 64 lowercase hex characters (a keyed hash, never the number)"];
  } else {
    if (record.ipPrefix === null ? record.ipHash !== null : !isRecordPrefix(record.ipPrefix))
      return [
        "BAD_IP_PREFIX",
        "ipPrefix: must be the /24 (IPv4) or /48 (IPv6) network of the address, host bits zero, as the edge writes it (null only without ipHash)",
      ];
    if (record.ipHash === null ? record.ipPrefix !== null : !HASH.test(record.ipHash))
      return ["BAD_IP_HASH", "ipHash: must be 64 lowercase hex characters (a keyed hash, never the address)"];
  }
  if (record.accountId !== undefined && !isAccountId(record.accountId))
    return ["BAD_ACCOUNT_ID", "accountId: must be an account id, never an IP address or a phone number"];
  if (!MeetingId.safeParse(record.meetingId).success)
    return ["BAD_MEETING_ID", "meetingId: must be a meeting id"];
  if (
    (record.country !== null && !CountryCode.safeParse(record.country).success) ||
    (record.subdivision !== null && !Jurisdiction.safeParse(record.subdivision).success) ||
    (record.jurisdiction !== null && !Jurisdiction.safeParse(record.jurisdiction).success)
  )
    return ["BAD_LOCATION", "country, subdivision, jurisdiction: must be ISO 3166 codes or null"];
  return undefined;
}

/**
 * Exactly what a check records for an address in this network (`ipPrefix`): the canonical network
 * address with host bits zero and its length, /24 or /48 (and /40 for 6to4, which embeds an IPv4).
 * A `/32`, a host address, another length or another spelling is refused.
 */
export function isRecordPrefix(value: string): boolean {
  const slash = value.indexOf("/");
  if (slash < 0) return false;
  const parsed = parseIp(value.slice(0, slash));
  return parsed !== null && ipPrefix(parsed.ip) === value;
}

function isAccountId(value: string): boolean {
  // The check's own rule (engine/schemas.ts), so ingest refuses exactly what the edge's check refuses.
  return AccountId.safeParse(value).success;
}

/** One lookup per key for the length of one delivery. */
function memo<T>(load: (key: string) => Promise<T>): (key: string) => Promise<T> {
  const cache = new Map<string, Promise<T>>();
  return (key) => {
    let hit = cache.get(key);
    if (!hit) {
      hit = load(key);
      cache.set(key, hit);
    }
    return hit;
  };
}
