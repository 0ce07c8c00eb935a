/**
 * `RedisRulesetChannel`: the Redis side of ruleset distribution. A version is stored and announced
 * (PUBLISH) in one compare-and-set script, as a delta after the one held where it follows on (O(changed))
 * and as a whole document otherwise; a whole document of a later version replaces the held one now and
 * then, uploaded in pieces beside it and renamed over it in one step. Announcements arrive on a dedicated
 * subscriber connection. The caller owns both clients. What to install, publish or refuse is `RulesetSync`'s.
 */
import { randomUUID } from "node:crypto";
import type { Ruleset } from "../engine/index.js";
import { isUnavailable, type RedisClient } from "../platform/node/redis.js";
import { encodeRulesetFile, parseRulesetFile, rulesetFilePieces } from "../platform/node/ruleset-file.js";
import { nodeSha256 } from "../platform/node/sha256-stream.js";
import type { RedisKeys } from "../store/redis/keys.js";
import type { ChannelEvents, PublishReply, PublishRequest, RulesetChannel } from "./redis-sync.js";
import { parseRulesetDocument } from "./ruleset-json.js";

/**
 * The document's encoding: the columns of the ruleset snapshot and the disk mirror (ruleset-file.ts),
 * which parse several times faster than a JSON object per order. Read back, every bucket's digest is
 * recomputed from its orders (`fromBucketDocuments`' `verify`): Redis is not a file this process wrote.
 */
export const DOCUMENT_FORMAT = "cordon-ruleset-document/1";
const NODE = { sha256: nodeSha256 };

/**
 * A delta-only publish refuses (answers "send the document") once this many deltas follow the document,
 * so a reader never has more to apply after it; normally a new document is stored long before, as
 * `DOCUMENT_DUE_DELTAS` asks.
 */
const MAX_CHAIN_DELTAS = 1024;
/** A new document is due once this many deltas follow the one held, or their length is an eighth of it. */
const DOCUMENT_DUE_DELTAS = 128;
/** Deltas kept before the document's version, for instances a little behind it. */
const KEEP_BEHIND = 64;
/** How long an upload may take between two of its pieces, in seconds. */
const UPLOAD_TTL_S = 300;

/**
 * KEYS[1] document, KEYS[2] version, KEYS[3] the version's epoch, KEYS[4] the order history's epoch,
 * KEYS[5] the deltas stream, KEYS[6] the document's version, KEYS[7] the chain's counts, KEYS[8] the
 * document of earlier releases (deleted with the first document stored: see keys.ts); ARGV[1]
 * version, ARGV[2] document ('' for none: a delta only), ARGV[3] channel, ARGV[4] epoch ('' for none),
 * ARGV[5] the delta from version ARGV[6] ('' for none), ARGV[7] deltas kept behind the document,
 * ARGV[8] deltas after which a new document is due, ARGV[9] the most deltas after a document.
 *
 * Store and announce in one step: no crash or lost connection can leave a stored version unannounced,
 * and the version check and the write cannot interleave with another instance's publish.
 * A ruleset of an epoch is stored only while that epoch is the history's: one compiled from a history
 * Redis no longer holds (emptied, or begun anew) is never put back. Versions are compared within an
 * epoch; a ruleset of the history's epoch replaces one of another epoch whatever the versions.
 *
 * A delta joins the stream (entry id `<version>-0`) only when it follows on from the version held, in
 * the same epoch; any other publish empties the stream, so its deltas always chain up to the version
 * held from the document's (readers check each delta's base and hash all the same). A publish of a
 * delta alone is O(changed): the document stays as it is, older, and the deltas lead from it. It is
 * refused, {2, held}, when the delta does not follow on, no document is held, or the chain is at its
 * bounds (ARGV[9] deltas, or half the document's length): the publisher then sends the document. A
 * stream of an earlier release (ids by time) is emptied the same way.
 * A new document is due after ARGV[8] deltas, once they are an eighth of the document's length, or when
 * an instance could not follow them (`wanted`).
 * Answers {1 if stored, the version held before (-1 for none), 1 if a new document is due}.
 */
const PUBLISH_SCRIPT = `
local current = tonumber(redis.call('GET', KEYS[2])) or -1
local held = redis.call('GET', KEYS[3]) or ''
local version = tonumber(ARGV[1])
local epoch = ARGV[4]
if epoch ~= '' and redis.call('GET', KEYS[4]) ~= epoch then return {0, current, 0} end
if held == epoch and current >= version then return {0, current, 0} end
if epoch == '' and current >= version then return {0, current, 0} end
local follows = ARGV[5] ~= '' and held == epoch and current == tonumber(ARGV[6])
local id = ARGV[1] .. '-0'
local n = tonumber(redis.call('HGET', KEYS[7], 'n')) or 0
local chars = tonumber(redis.call('HGET', KEYS[7], 'chars')) or 0
local documentChars = redis.call('STRLEN', KEYS[1])
if ARGV[2] == '' then
  if not follows or documentChars == 0 or n >= tonumber(ARGV[9]) or chars >= documentChars / 2 + 1048576 then
    return {2, current, 0}
  end
  local added = redis.pcall('XADD', KEYS[5], id, 'v', ARGV[1], 'd', ARGV[5])
  if type(added) == 'table' and added.err then
    redis.call('DEL', KEYS[5])
    return {2, current, 0}
  end
  n = n + 1
  chars = chars + string.len(ARGV[5])
  redis.call('HSET', KEYS[7], 'n', n, 'chars', chars)
else
  if follows then
    local added = redis.pcall('XADD', KEYS[5], id, 'v', ARGV[1], 'd', ARGV[5])
    if type(added) == 'table' and added.err then
      redis.call('DEL', KEYS[5])
      redis.call('XADD', KEYS[5], id, 'v', ARGV[1], 'd', ARGV[5])
    end
    redis.call('XTRIM', KEYS[5], 'MINID', math.max(1, version - tonumber(ARGV[7])) .. '-0')
  else
    redis.call('DEL', KEYS[5])
  end
  redis.call('SET', KEYS[1], ARGV[2])
  redis.call('SET', KEYS[6], ARGV[1])
  redis.call('DEL', KEYS[8])
  n = 0
  chars = 0
  documentChars = string.len(ARGV[2])
  redis.call('DEL', KEYS[7])
  redis.call('HSET', KEYS[7], 'n', 0, 'chars', 0)
end
redis.call('SET', KEYS[2], ARGV[1])
if epoch == '' then redis.call('DEL', KEYS[3]) else redis.call('SET', KEYS[3], epoch) end
redis.call('PUBLISH', ARGV[3], ARGV[1])
local due = 0
if n >= tonumber(ARGV[8]) or chars * 8 >= documentChars or redis.call('HEXISTS', KEYS[7], 'wanted') == 1 then
  due = 1
end
return {1, current, due}
`;

/**
 * KEYS[1] an upload; ARGV[1] a piece of the document, ARGV[2] the upload's TTL. Appends only to an
 * upload that is still there: one that expired is never begun again by a later piece (a document
 * missing its start). Answers the upload's length, or -1.
 */
const APPEND_SCRIPT = `
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
redis.call('EXPIRE', KEYS[1], ARGV[2])
return redis.call('APPEND', KEYS[1], ARGV[1])
`;

/**
 * KEYS[1] document, KEYS[2] version, KEYS[3] the version's epoch, KEYS[4] the deltas stream, KEYS[5]
 * the document's version, KEYS[6] the chain's counts, KEYS[7] the upload; ARGV[1] the upload's version,
 * ARGV[2] its epoch ('' for none), ARGV[3] its length in bytes, ARGV[4] deltas kept behind it.
 * The upload becomes the document only if it is whole, of the epoch in force, newer than the document
 * held, no newer than the version in force, and a version the deltas hold (so the deltas after it
 * lead to the version in force); the chain's counts are then those of the deltas after it, and the
 * deltas well before it are trimmed. Any other upload is dropped. Answers 1 if it became the document.
 */
const INSTALL_SCRIPT = `
if redis.call('STRLEN', KEYS[7]) ~= tonumber(ARGV[3]) then
  redis.call('DEL', KEYS[7])
  return 0
end
local head = tonumber(redis.call('GET', KEYS[2])) or -1
local held = redis.call('GET', KEYS[3]) or ''
local documentVersion = tonumber(redis.call('GET', KEYS[5])) or head
local version = tonumber(ARGV[1])
local entry = redis.call('XRANGE', KEYS[4], ARGV[1] .. '-0', ARGV[1] .. '-0')
if held ~= ARGV[2] or version > head or version <= documentVersion or #entry == 0 then
  redis.call('DEL', KEYS[7])
  return 0
end
redis.call('RENAME', KEYS[7], KEYS[1])
redis.call('PERSIST', KEYS[1])
redis.call('SET', KEYS[5], ARGV[1])
local n = 0
local chars = 0
for _, later in ipairs(redis.call('XRANGE', KEYS[4], (version + 1) .. '-0', '+')) do
  n = n + 1
  local fields = later[2]
  for i = 1, #fields, 2 do
    if fields[i] == 'd' then chars = chars + string.len(fields[i + 1]) end
  end
end
redis.call('DEL', KEYS[6])
redis.call('HSET', KEYS[6], 'n', n, 'chars', chars)
redis.call('XTRIM', KEYS[4], 'MINID', math.max(1, version - tonumber(ARGV[4])) .. '-0')
return 1
`;

export class RedisRulesetChannel implements RulesetChannel {
  private events: Partial<ChannelEvents> = {};
  private readonly onError = (err: unknown) => this.events.error?.(err);
  private readonly onReady = () => this.events.ready?.();
  private readonly onSubscriberReady = () => this.events.subscriberReady?.();
  private readonly onMessage = (channel: string, payload: string) => {
    if (channel === this.keys.rulesetChannel) this.events.message?.(payload);
  };

  constructor(
    /** Commands. */
    private readonly redis: RedisClient,
    /** A dedicated connection for SUBSCRIBE (a subscribed connection can run no other command). */
    private readonly subscriber: RedisClient,
    private readonly keys: RedisKeys,
    private readonly options: {
      /** The size of an upload's pieces, in bytes (default 64 KiB). */
      pieceBytes?: number;
    } = {},
  ) {}

  async publish(request: PublishRequest): Promise<PublishReply> {
    const { version, epoch, whole, delta } = request;
    const document = whole === undefined ? "" : encodeRulesetFile(DOCUMENT_FORMAT, whole, {});
    const reply = await this.redis.eval(
      PUBLISH_SCRIPT,
      8,
      this.keys.ruleset,
      this.keys.rulesetVersion,
      this.keys.rulesetEpoch,
      this.keys.epoch,
      this.keys.rulesetDeltas,
      this.keys.rulesetDocumentVersion,
      this.keys.rulesetChain,
      this.keys.rulesetEarlierDocument,
      String(version),
      document,
      this.keys.rulesetChannel,
      epoch ?? "",
      delta?.json ?? "",
      String(delta?.base ?? -1),
      String(KEEP_BEHIND),
      String(DOCUMENT_DUE_DELTAS),
      String(MAX_CHAIN_DELTAS),
    );
    if (
      Array.isArray(reply) &&
      typeof reply[0] === "number" &&
      typeof reply[1] === "number" &&
      typeof reply[2] === "number"
    ) {
      const [outcome, previous, due] = reply;
      if (outcome === 2) return { stored: false, previous, needsDocument: true };
      return { stored: outcome === 1, previous, ...(due === 1 ? { documentDue: true } : {}) };
    }
    throw new Error(`unexpected reply from the ruleset publish script: ${JSON.stringify(reply)}`);
  }

  async storeDocument(ruleset: Ruleset, pace: () => Promise<void>): Promise<boolean> {
    const { version, epoch } = ruleset;
    const upload = this.keys.rulesetUpload(`${version}-${randomUUID()}`);
    let bytes = 0;
    try {
      for (const piece of rulesetFilePieces(DOCUMENT_FORMAT, ruleset, {}, this.options.pieceBytes)) {
        if (bytes > 0) await pace();
        if (bytes === 0) await this.redis.set(upload, piece, "EX", UPLOAD_TTL_S);
        else if ((await this.redis.eval(APPEND_SCRIPT, 1, upload, piece, String(UPLOAD_TTL_S))) === -1)
          throw new Error(`the upload of ruleset v${version} expired while it was written`);
        bytes += piece.length;
      }
      const installed = await this.redis.eval(
        INSTALL_SCRIPT,
        7,
        this.keys.ruleset,
        this.keys.rulesetVersion,
        this.keys.rulesetEpoch,
        this.keys.rulesetDeltas,
        this.keys.rulesetDocumentVersion,
        this.keys.rulesetChain,
        upload,
        String(version),
        epoch ?? "",
        String(bytes),
        String(KEEP_BEHIND),
      );
      return installed === 1;
    } catch (err) {
      await this.redis.del(upload).catch(() => undefined);
      throw err;
    }
  }

  async requestDocument(): Promise<void> {
    await this.redis.hset(this.keys.rulesetChain, "wanted", "1");
  }

  async documentWanted(): Promise<boolean> {
    return (await this.redis.hexists(this.keys.rulesetChain, "wanted")) === 1;
  }

  async readVersion(): Promise<{
    version: string | null;
    epoch: string | null;
    documentVersion: string | null;
  }> {
    // One MGET (the keys share a slot): the version, its epoch and the document's from one moment.
    const [version = null, epoch = null, documentVersion = null] = await this.redis.mget(
      this.keys.rulesetVersion,
      this.keys.rulesetEpoch,
      this.keys.rulesetDocumentVersion,
    );
    return { version, epoch, documentVersion };
  }

  async readDocument(): Promise<Ruleset | null> {
    const bytes = await this.redis.getBuffer(this.keys.ruleset);
    if (bytes !== null) return parseRulesetFile(bytes, DOCUMENT_FORMAT, () => true, NODE).ruleset;
    // Where an earlier release left it, as JSON, until this release stores one (see keys.ts).
    const earlier = await this.redis.get(this.keys.rulesetEarlierDocument);
    return earlier === null ? null : parseRulesetDocument(earlier, NODE);
  }

  async readDeltas(after: number): Promise<{ version: number; json: string }[]> {
    const entries = await this.redis.xrange(this.keys.rulesetDeltas, `${after + 1}-0`, "+");
    const out: { version: number; json: string }[] = [];
    for (const [, fields] of entries) {
      const at = (name: string) => fields[fields.indexOf(name) + 1];
      const version = Number(at("v"));
      const json = at("d");
      if (Number.isInteger(version) && version > after && json !== undefined) out.push({ version, json });
    }
    return out.sort((x, y) => x.version - y.version);
  }

  async subscribe(): Promise<void> {
    await this.subscriber.subscribe(this.keys.rulesetChannel);
  }

  subscriberReady(): boolean {
    return this.subscriber.status === "ready";
  }

  connected(): boolean {
    return this.redis.status === "ready" && this.subscriber.status === "ready";
  }

  state(): string {
    return `${this.redis.status}/${this.subscriber.status}`;
  }

  isUnavailable(err: unknown): boolean {
    return isUnavailable(err);
  }

  async waitReady(ms: number): Promise<void> {
    await Promise.all([whenReady(this.redis, ms), whenReady(this.subscriber, ms)]);
  }

  listen(events: Partial<ChannelEvents>): void {
    this.events = { ...this.events, ...events };
    if (events.error) {
      this.redis.on("error", this.onError);
      this.subscriber.on("error", this.onError);
    }
    if (events.ready) this.redis.on("ready", this.onReady);
    if (events.subscriberReady) this.subscriber.on("ready", this.onSubscriberReady);
    if (events.message) this.subscriber.on("message", this.onMessage);
  }

  async close(): Promise<void> {
    this.events = {};
    this.redis.off("ready", this.onReady);
    this.redis.off("error", this.onError);
    this.subscriber.off("ready", this.onSubscriberReady);
    this.subscriber.off("error", this.onError);
    this.subscriber.off("message", this.onMessage);
    if (this.subscriber.status === "ready") {
      await this.subscriber.unsubscribe(this.keys.rulesetChannel).catch(() => undefined);
    }
  }
}

/** Resolves when the client is ready, fails to connect, or after `ms`: never rejects. */
function whenReady(client: RedisClient, ms: number): Promise<void> {
  if (client.status === "ready") return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      client.off("ready", done);
      client.off("error", done);
      client.off("end", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    client.on("ready", done);
    client.on("error", done);
    client.on("end", done);
  });
}
