/**
 * `EventJournal`: enforcement events of the embedded mode, `<dir>/events.jsonl`. One line per publish (its
 * events and the state changes together, appended and fdatasynced before `publish` resolves), so a
 * batch is in whole or not at all; the published state and the retained events are rebuilt from it at
 * open. Event ids are a sequence number. Events older than the retention are dropped by rewriting the
 * file (atomically) as one snapshot line; a cursor before the dropped ones reads as `lost`.
 *
 * The embedded store has one process (the data directory's lock; with CORDON_WORKERS the writer alone
 * opens it and runs the reconciler), so the compare-and-set only orders this process's own reconciles;
 * the rule is the same as on Redis. What the last publishes changed (`changesSince`) is kept in memory,
 * rebuilt from the journal's lines at open.
 */
import { Buffer } from "node:buffer";
import { type FileHandle, mkdir, open } from "node:fs/promises";
import { join } from "node:path";
import type { ScopeKey } from "../../engine/index.js";
import { type Logger, SILENT_LOGGER } from "../../kernel/logger.js";
import { writeFileAtomic } from "../../platform/node/atomic-file.js";
import {
  type EnforcementEvent,
  type EnforcementEventStore,
  type EventPage,
  KEPT_CHANGES,
  type OrderEvents,
  type PublishBatch,
  type PublishedEnforcement,
  type PublishedRevision,
  type PublishedSince,
  type PublishResult,
  sameRevision,
  staleness,
} from "../enforcement-events.js";
import { readLines, writeAll } from "./file-io.js";
import { cutTornTail } from "./torn-tail.js";

export const EVENT_JOURNAL_FILE = "events.jsonl";

interface Meta {
  rev: number;
  epoch: string | null;
  version: number;
  at: number;
}

/** A line: a publish, or (first line only) the snapshot a compaction wrote. */
type Line =
  | (Meta & { t: "batch"; changes: [string, ScopeKey | null][]; events: EnforcementEvent[] })
  | (Meta & { t: "snapshot"; orders: [string, ScopeKey][]; events: EnforcementEvent[]; trimmedTo: number });

/**
 * The orders named by each of the last publishes, with the revision each was published over, oldest
 * first and one per revision (every publish is added), within `KEPT_CHANGES`.
 */
class RecentPublishes {
  private entries: { from: Meta; ids: string[] }[] = [];
  private count = 0;

  add(from: Meta, ids: string[]): void {
    this.entries.push({ from, ids });
    this.count += ids.length;
    while (this.entries.length > KEPT_CHANGES.publishes || this.count > KEPT_CHANGES.orders) {
      this.count -= this.entries.shift()?.ids.length ?? 0;
    }
  }

  /** After a snapshot line: what came before it is not known. */
  clear(): void {
    this.entries = [];
    this.count = 0;
  }

  /** The orders named by every publish after `since`, or undefined when the first of them is not kept. */
  after(since: PublishedRevision): Set<string> | undefined {
    const first = this.entries[0];
    if (first === undefined) return undefined;
    const entry = this.entries[since.rev - first.from.rev];
    // The publish right after `since` must have been made over `since` itself, not over a revision of
    // the same number in another history.
    if (entry === undefined || !sameRevision(entry.from, since)) return undefined;
    const ids = new Set<string>();
    for (let i = since.rev - first.from.rev; i < this.entries.length; i++) {
      for (const id of (this.entries[i] as { ids: string[] }).ids) ids.add(id);
    }
    return ids;
  }
}

export interface EventJournalOptions {
  /** How long events are kept, ms (CORDON_EVENTS_RETENTION_HOURS). */
  retentionMs: number;
  logger?: Logger;
}

export class EventJournal implements EnforcementEventStore {
  private readonly listeners = new Set<(closing?: boolean) => void>();
  private tail: Promise<unknown> = Promise.resolve();
  private closed = false;

  private constructor(
    private readonly path: string,
    private fh: FileHandle,
    private meta: Meta,
    private readonly orders: Map<string, ScopeKey>,
    /** The retained events, oldest first (few: a handful per order change or boundary). */
    private events: EnforcementEvent[],
    /** The highest sequence number dropped by the retention (0: none). */
    private trimmedTo: number,
    private readonly recent: RecentPublishes,
    private readonly opts: EventJournalOptions,
  ) {}

  get retentionMs(): number {
    return this.opts.retentionMs;
  }

  static async open(dir: string, opts: EventJournalOptions): Promise<EventJournal> {
    const logger = opts.logger ?? SILENT_LOGGER;
    await mkdir(dir, { recursive: true });
    const path = join(dir, EVENT_JOURNAL_FILE);
    let meta: Meta = { rev: 0, epoch: null, version: -1, at: 0 };
    const orders = new Map<string, ScopeKey>();
    let events: EnforcementEvent[] = [];
    let trimmedTo = 0;
    const recent = new RecentPublishes();
    const fh = await open(path, "a+");
    const lines: { text: string; start: number; terminated: boolean }[] = [];
    for await (const line of readLines(path)) lines.push(line);
    for (const [i, line] of lines.entries()) {
      let parsed: Line | undefined;
      try {
        parsed = line.terminated ? (JSON.parse(line.text) as Line) : undefined;
      } catch {
        parsed = undefined;
      }
      if (parsed === undefined) {
        // A publish that never returned: cut off, as the other journals do; anything before the end is
        // the journal's corruption, never silently dropped.
        if (i !== lines.length - 1) {
          await fh.close();
          throw new Error(`${path}: line ${i + 1} does not read; the enforcement event journal is damaged`);
        }
        const reason = line.terminated ? "unparsable line" : "incomplete line";
        await cutTornTail(fh, path, { offset: line.start, reason }, "enforcement events", logger);
        break;
      }
      const from = meta;
      meta = { rev: parsed.rev, epoch: parsed.epoch, version: parsed.version, at: parsed.at };
      if (parsed.t === "snapshot") {
        recent.clear();
        orders.clear();
        for (const [id, key] of parsed.orders) orders.set(id, key);
        events = [...parsed.events];
        trimmedTo = parsed.trimmedTo;
      } else {
        for (const [id, key] of parsed.changes) {
          if (key === null) orders.delete(id);
          else orders.set(id, key);
        }
        events.push(...parsed.events);
        recent.add(
          from,
          parsed.changes.map(([id]) => id),
        );
      }
    }
    const journal = new EventJournal(path, fh, meta, orders, events, trimmedTo, recent, opts);
    return journal;
  }

  async published(): Promise<PublishedEnforcement> {
    return { ...this.meta, orders: new Map(this.orders) };
  }

  async changesSince(since: PublishedRevision): Promise<PublishedSince | undefined> {
    const revision = { ...this.meta };
    if (sameRevision(revision, since)) return { revision, orders: new Map() };
    if (since.rev >= revision.rev) return undefined;
    const ids = this.recent.after(since);
    if (ids === undefined) return undefined;
    const orders = new Map<string, ScopeKey | null>();
    for (const id of ids) orders.set(id, this.orders.get(id) ?? null);
    return { revision, orders };
  }

  publish(batch: PublishBatch): Promise<PublishResult> {
    // Serialised: the check and the append are one step, as the Redis script is.
    const run = this.tail.then(() => this.publishNow(batch));
    this.tail = run.catch(() => undefined);
    return run;
  }

  private async publishNow(batch: PublishBatch): Promise<PublishResult> {
    if (this.closed) throw new Error("the enforcement event journal is closed");
    if (batch.rev !== this.meta.rev) return { kind: "conflict" };
    const stale = staleness(this.meta, batch);
    if (stale) return { kind: "stale", ...stale };
    let seq = this.lastSeq();
    const events = batch.events.map((e) => ({ ...e, id: String(++seq) }));
    const meta: Meta = {
      rev: this.meta.rev + 1,
      epoch: batch.epoch ?? null,
      version: batch.version,
      at: batch.at,
    };
    const line: Line = {
      t: "batch",
      ...meta,
      changes: batch.changes.map((c) => [c.orderId, c.after]),
      events,
    };
    await writeAll(this.fh, Buffer.from(`${JSON.stringify(line)}\n`, "utf8"));
    await this.fh.datasync();
    // The state, and what changed in it, move together (no await in between): a read sees both or neither.
    this.recent.add(
      this.meta,
      batch.changes.map((c) => c.orderId),
    );
    this.meta = meta;
    for (const c of batch.changes) {
      if (c.after === null) this.orders.delete(c.orderId);
      else this.orders.set(c.orderId, c.after);
    }
    this.events.push(...events);
    await this.trim(batch.at);
    if (events.length > 0) for (const listener of this.listeners) listener();
    return { kind: "published", ids: events.map((e) => e.id) };
  }

  isCursor(raw: string): boolean {
    return /^(0|[1-9][0-9]{0,15})$/.test(raw);
  }

  compare(a: string, b: string): number {
    return Number(a) - Number(b);
  }

  async latest(): Promise<string> {
    return String(this.lastSeq());
  }

  async read(cursor: string, limit: number): Promise<EventPage> {
    const after = Number(cursor);
    const events = this.events.filter((e) => Number(e.id) > after).slice(0, limit);
    return { events, lost: after < this.trimmedTo };
  }

  async eventsFor(orderId: string, limit: number): Promise<OrderEvents> {
    const found: EnforcementEvent[] = [];
    for (let i = this.events.length - 1; i >= 0 && found.length <= limit; i--) {
      const event = this.events[i] as EnforcementEvent;
      if (event.orderId === orderId) found.push(event);
    }
    return { events: found.slice(0, limit), more: found.length > limit, trimmed: this.trimmedTo > 0 };
  }

  listen(listener: (closing?: boolean) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const listener of [...this.listeners]) listener(true);
    this.listeners.clear();
    await this.tail;
    await this.fh.close();
  }

  private lastSeq(): number {
    return Number(this.events.at(-1)?.id ?? this.trimmedTo);
  }

  /** Drops the events older than the retention: the file is rewritten as one snapshot line. */
  private async trim(now: number): Promise<void> {
    const horizon = now - this.opts.retentionMs;
    // Events are kept in publish order, oldest first (what is dropped is a prefix): when the oldest is
    // within the retention, so is every other, and a publish costs no pass over them all.
    const oldest = this.events[0];
    if (oldest === undefined || Date.parse(oldest.at) >= horizon) return;
    const keep = this.events.filter((e) => Date.parse(e.at) >= horizon);
    if (keep.length === this.events.length) return;
    const trimmedTo = Number(this.events[this.events.length - keep.length - 1]?.id ?? this.trimmedTo);
    const snapshot: Line = {
      t: "snapshot",
      ...this.meta,
      orders: [...this.orders.entries()],
      events: keep,
      trimmedTo,
    };
    await writeFileAtomic(this.path, `${JSON.stringify(snapshot)}\n`);
    await this.fh.close();
    this.fh = await open(this.path, "a+");
    this.events = keep;
    this.trimmedTo = trimmedTo;
  }
}
