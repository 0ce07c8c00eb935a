/**
 * `RedisRulesetChannel`: the Redis side of ruleset distribution. The document and its version are stored
 * and announced (PUBLISH) in one compare-and-set script; announcements arrive on a dedicated subscriber
 * connection. The caller owns both clients. What to install, publish or refuse is `RulesetSync`'s.
 */
import { isUnavailable, type RedisClient } from "../platform/node/redis.js";
import type { RedisKeys } from "../store/redis/keys.js";
import type { ChannelEvents, RulesetChannel } from "./redis-sync.js";

/**
 * KEYS[1] document, KEYS[2] version, KEYS[3] the document's epoch, KEYS[4] the order history's epoch,
 * KEYS[5] the deltas stream; ARGV[1] version, ARGV[2] document, ARGV[3] channel, ARGV[4] the document's
 * epoch ('' for none), ARGV[5] the delta from version ARGV[6] ('' for none).
 * Store and announce in one step: no crash or lost connection can leave a stored version unannounced,
 * and the version check and the write cannot interleave with another instance's publish.
 * A ruleset of an epoch is stored only while that epoch is the history's: one compiled from a history
 * Redis no longer holds (emptied, or begun anew) is never put back. Versions are compared within an
 * epoch; a ruleset of the history's epoch replaces one of another epoch whatever the versions.
 * The delta joins the stream only when it follows on from the version held, in the same epoch; any other
 * publish empties the stream, so its deltas always chain up to the version held (readers check each
 * delta's base and hash all the same). The stream keeps about the last 64.
 * Answers {1 if stored, the version held before (-1 for none)}.
 */
const PUBLISH_SCRIPT = `
local current = tonumber(redis.call('GET', KEYS[2])) or -1
local held = redis.call('GET', KEYS[3]) or ''
local version = tonumber(ARGV[1])
local epoch = ARGV[4]
if epoch ~= '' and redis.call('GET', KEYS[4]) ~= epoch then return {0, current} end
if held == epoch and current >= version then return {0, current} end
if epoch == '' and current >= version then return {0, current} end
if ARGV[5] ~= '' and held == epoch and current == tonumber(ARGV[6]) then
  redis.call('XADD', KEYS[5], 'MAXLEN', '~', 64, '*', 'v', ARGV[1], 'd', ARGV[5])
else
  redis.call('DEL', KEYS[5])
end
redis.call('SET', KEYS[1], ARGV[2])
redis.call('SET', KEYS[2], ARGV[1])
if epoch == '' then redis.call('DEL', KEYS[3]) else redis.call('SET', KEYS[3], epoch) end
redis.call('PUBLISH', ARGV[3], ARGV[1])
return {1, current}
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
  ) {}

  async publish(
    version: number,
    document: string,
    epoch: string | undefined,
    delta?: { base: number; json: string },
  ): Promise<{ stored: boolean; previous: number }> {
    const reply = await this.redis.eval(
      PUBLISH_SCRIPT,
      5,
      this.keys.ruleset,
      this.keys.rulesetVersion,
      this.keys.rulesetEpoch,
      this.keys.epoch,
      this.keys.rulesetDeltas,
      String(version),
      document,
      this.keys.rulesetChannel,
      epoch ?? "",
      delta?.json ?? "",
      String(delta?.base ?? -1),
    );
    if (Array.isArray(reply) && typeof reply[0] === "number" && typeof reply[1] === "number") {
      return { stored: reply[0] === 1, previous: reply[1] };
    }
    throw new Error(`unexpected reply from the ruleset publish script: ${JSON.stringify(reply)}`);
  }

  async readVersion(): Promise<{ version: string | null; epoch: string | null }> {
    // One MGET (the keys share a slot): the version and its epoch from one moment.
    const [version = null, epoch = null] = await this.redis.mget(
      this.keys.rulesetVersion,
      this.keys.rulesetEpoch,
    );
    return { version, epoch };
  }

  readDocument(): Promise<string | null> {
    return this.redis.get(this.keys.ruleset);
  }

  async readDeltas(after: number): Promise<{ version: number; json: string }[]> {
    const entries = await this.redis.xrange(this.keys.rulesetDeltas, "-", "+");
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
