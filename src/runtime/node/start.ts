/**
 * The Node entry: parse the environment, build the adapters (the embedded file store in
 * CORDON_DATA_DIR, or Redis when REDIS_URL is set; the mmdb at CORDON_GEOIP_DB, the bundled GeoLite2
 * country database, or the MaxMind web service), hand them to `createServerApp`, and serve. `npm start` runs
 * this with no configuration at all; CORDON_WORKERS=N runs N such processes under node:cluster.
 */

import { createHash } from "node:crypto";
import { once } from "node:events";
import { chmod, mkdir, mkdtemp, open, unlink } from "node:fs/promises";
import {
  createServer as createHttpServer,
  type RequestListener,
  type Server,
  type ServerOptions,
} from "node:http";
import { hostname, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { serve } from "@hono/node-server";
import { type Config, kvPublishSettings, oidcSettings } from "../../config/node.js";
import { configError } from "../../config/parse.js";
import { OidcSignIn } from "../../console/oidc.js";
import type { Ruleset } from "../../engine/index.js";
import { CachedGeo } from "../../geo/cached-geo.js";
import type { Geo } from "../../geo/interface.js";
import { WebServiceGeo } from "../../geo/webservice-geo.js";
import { createServerApp } from "../../http/app.js";
import { checkFastPathOf } from "../../http/routes/check-fast-path.js";
import type { Language } from "../../i18n/language.js";
import { StoreUnavailableError } from "../../kernel/errors.js";
import type { Logger } from "../../kernel/logger.js";
import type { Readiness } from "../../kernel/runtime.js";
import { workerSlot } from "../../platform/node/cluster.js";
import { nodeDocsAssets } from "../../platform/node/docs-assets.js";
import { defaultDatabasePath, ReloadingGeo } from "../../platform/node/geo-file.js";
import { createRedis, type RedisClient, watchPersistence } from "../../platform/node/redis.js";
import { nodeSha256 } from "../../platform/node/sha256-stream.js";
import { WRITER_SLOT } from "../../platform/node/worker-messages.js";
import { publisherOf } from "../../report/model.js";
import { RulesetCompiler } from "../../rulesets/compiler.js";
import { DiskMirror } from "../../rulesets/disk-mirror.js";
import { EnforcementReconciler } from "../../rulesets/enforcement-reconciler.js";
import { RulesetHolder } from "../../rulesets/holder.js";
import { KvPublisher } from "../../rulesets/kv-publisher.js";
import { RedisRulesetChannel } from "../../rulesets/redis-channel.js";
import { RulesetSync } from "../../rulesets/redis-sync.js";
import { rulesetDeltaJson } from "../../rulesets/ruleset-json.js";
import { Authenticator } from "../../service/auth.js";
import { type ReportDeps, ReportService } from "../../service/reports.js";
import { randomUuid } from "../../service/uuid.js";
import type { EnforcementEventStore } from "../../store/enforcement-events.js";
import { AuditMirror } from "../../store/file/audit-mirror.js";
import { DeferredOrderJournal } from "../../store/file/deferred-orders.js";
import { EventJournal } from "../../store/file/event-journal.js";
import { FileStore } from "../../store/file/file-store.js";
import { FileFrozenReportStore } from "../../store/file/frozen-store.js";
import { FileIngestIndex } from "../../store/file/ingest-index.js";
import { FileIpHashKeyStore } from "../../store/file/ip-hash-keys.js";
import { OpenStoppedError } from "../../store/file/order-journal.js";
import { RulesetSnapshotWriter, readRulesetAtHead } from "../../store/file/ruleset-snapshot.js";
import { SegmentLog } from "../../store/file/segment-log.js";
import { FileSessionStore } from "../../store/file/session-store.js";
import type { IngestIndex } from "../../store/ingest-index.js";
import type { DecisionLog, OrderStore } from "../../store/interface.js";
import { RedisAggregateStore } from "../../store/redis/aggregate-store.js";
import { RedisDecisionLog } from "../../store/redis/decision-log.js";
import { FOLLOW_BLOCK_MS, RedisEnforcementEvents } from "../../store/redis/enforcement-events.js";
import { RedisFrozenReportStore } from "../../store/redis/frozen-store.js";
import { RedisGeoCache, type VersionedGeo } from "../../store/redis/geo-cache.js";
import { RedisIngestIndex } from "../../store/redis/ingest-index.js";
import { RedisIpHashKeyStore } from "../../store/redis/ip-hash-keys.js";
import { redisKeys } from "../../store/redis/keys.js";
import { LazyOrderStore } from "../../store/redis/lazy-order-store.js";
import { MirroredOrderStore } from "../../store/redis/mirrored-order-store.js";
import { RedisOrderStore } from "../../store/redis/order-store.js";
import { runFromStream, streamRecords } from "../../store/redis/report-reader.js";
import { RedisSessionStore } from "../../store/redis/session-store.js";
import { SHIPPER_REDIS_OVERRIDES } from "../../store/redis/shipper/stream-shipper.js";
import type { SessionStore } from "../../store/sessions.js";
import { nodeCheckFront } from "./check-front.js";
import { nodeClientAddress } from "./client-address.js";
import { startFollower } from "./follower.js";
import { IpHashKeyRing } from "./ip-hash-ring.js";
import { reportSigner } from "./report-key.js";
import { wholeRulesetText } from "./ruleset-message.js";
import { ipHasher, loadIpHashKey, loadTokens, type TokenBootstrap } from "./secrets.js";
import { errorCode, listenError, settingFileError } from "./start-errors.js";
import { WorkerAggregates } from "./worker-aggregates.js";
import { WorkerDecisions } from "./worker-decisions.js";
import { WriterLink } from "./worker-link.js";
import { internalClientAddress, internalSockets } from "./writer-proxy.js";

/**
 * How long an order change waits for the KV publish of its ruleset. A KV PUT (with the GET before it)
 * usually takes a few hundred ms, so the answer normally comes once KV has the ruleset and the edge's
 * freshness bound runs from the answer; a slow or unreachable Cloudflare API costs an order change at
 * most this long, and never fails it (the publish goes on in the background and is retried).
 */
const KV_PUBLISH_WAIT_MS = 1500;

export interface Running {
  port: number;
  close(): Promise<void>;
}

export async function start(config: Config, logger: Logger): Promise<Running> {
  const slot = workerSlot();
  // On the embedded store, slot 0 is the data directory's writer and the others follow it (workers.md).
  const embeddedWorkers = slot !== undefined && !config.REDIS_URL;
  if (embeddedWorkers && slot !== WRITER_SLOT) return startFollower(config, logger, slot);
  // Each worker of a Redis cluster keeps its local files (outbox, last ruleset) apart; the slot is stable.
  const dataDir = resolve(
    config.CORDON_DATA_DIR,
    ...(slot === undefined || embeddedWorkers ? [] : [`worker-${slot}`]),
  );
  // Before anything is opened or written: a start that stops on a setting leaves nothing behind.
  if (config.CORDON_GEOIP_DB && !config.MAXMIND_ACCOUNT_ID)
    await checkGeoDatabase(resolve(config.CORDON_GEOIP_DB));
  await mkdir(dataDir, { recursive: true }).catch((err: unknown) => {
    throw settingFileError("CORDON_DATA_DIR", dataDir, err);
  });
  // The writer's end of the embedded workers' protocol.
  const link = embeddedWorkers ? new WriterLink() : undefined;

  // Generated tokens are kept and shown only once the server listens (below): a start that fails keeps none.
  const bootstrap = await loadTokens(dataDir, config.CORDON_TOKENS);
  const { tokens } = bootstrap;
  const ipHashKey = await loadIpHashKey(dataDir, config.CORDON_IP_HASH_KEY);
  const clock = () => Date.now();

  // Before the backend: a signing key WebCrypto cannot import stops the start, naming the variable.
  const publisher = await kvPublisher(config, clock, logger);
  const backend = config.REDIS_URL
    ? await redisBackend(config.REDIS_URL, config, dataDir, ipHashKey, clock, logger)
    : await embeddedBackend(config, dataDir, ipHashKey, clock, logger, link);
  const removePublishListener = publisher
    ? backend.compiler.addCompiledListener(publisher.listener(KV_PUBLISH_WAIT_MS))
    : undefined;
  // The backend's first compile came before the listener: publish what is in force now, in the
  // background (the publisher leaves KV alone when it holds this version or a newer one).
  const { holder } = backend.compiler;
  if (publisher && holder.isLoaded()) void publisher.publish(holder.current());
  // I3 across workers: an order change is answered once every follower has its ruleset (worker-hub.ts);
  // the one in force now goes out first, and followers answer no check before they have it.
  // Each ruleset after the first goes as a delta on the one sent before (the orders that changed): a
  // change costs the writer, the primary and each follower O(changed), not a document of every order.
  let sent: Ruleset | undefined;
  const distribute = (writer: WriterLink, ruleset: Ruleset, whole = false) => {
    const delta = whole || sent === undefined ? undefined : rulesetDeltaJson(ruleset, sent);
    sent = ruleset;
    return writer.distribute(delta ?? wholeRulesetText(ruleset), delta !== undefined);
  };
  const removeDistributeListener = link
    ? backend.compiler.addCompiledListener((ruleset) => distribute(link, ruleset))
    : undefined;
  if (link) {
    link.onWholeWanted(() => void distribute(link, holder.current(), true));
    void distribute(link, holder.current());
  }
  // The geo L2 keys on the inner hash (CORDON_IP_HASH_KEY alone): its entries expire within days.
  const geo = await buildGeo(config, ipHasher(ipHashKey), backend.redis, logger);
  const { ipHashKeys } = backend;

  // One per instance: publishes blocks taking effect and lifting (after installs, at window boundaries).
  const reconciler = new EnforcementReconciler({
    holder,
    store: backend.enforcementEvents,
    clock,
    logger,
    pollMs: config.CORDON_EVENTS_POLL_MS,
  }).start();
  const removeEventsListener = backend.compiler.addCompiledListener(reconciler.afterCompile);

  // The console's OpenID Connect sign-in, when configured; discovery waits for the first sign-in.
  const oidcConfig = oidcSettings(config);
  const oidc = oidcConfig ? new OidcSignIn(oidcConfig, logger) : undefined;
  const app = createServerApp(
    {
      orders: backend.orders,
      decisions: backend.decisions,
      geo: geo.geo,
      rulesets: holder,
      compiler: backend.compiler,
      auth: new Authenticator(tokens, (secret) => createHash("sha256").update(secret).digest()),
      clock,
      hashIp: (ip, at) => ipHashKeys.hashIp(ip, at),
      newId: randomUuid,
      logger,
      readiness: () => [
        ...backend.readiness(),
        ipHashKeys.readiness(),
        reconciler.readiness(),
        ...(publisher ? [{ name: "kv-publish", ready: true, ...publisherHealth(publisher) }] : []),
      ],
      reports: backend.reports,
      ingest: backend.ingest,
      enforcementEvents: backend.enforcementEvents,
      sealEdgeHash: (hash, at) => ipHashKeys.sealEdgeHash(hash, at),
      // The writer of embedded workers also serves the followers' socket, where they name the client.
      clientAddress: link ? internalClientAddress : nodeClientAddress,
      ...(backend.sessions ? { sessions: backend.sessions } : {}),
      docsAssets: nodeDocsAssets(),
    },
    { ...(oidc ? { oidc } : {}) },
  );

  // The checks' fast path goes ahead of the adapter, on Node's own request and response.
  const fast = checkFastPathOf(app);
  let serving: { options: ServerOptions; listener: RequestListener } | undefined;
  const createServer: typeof createHttpServer = ((options: ServerOptions, adapter: RequestListener) => {
    const listener = fast
      ? nodeCheckFront(fast, (request, env) => app.fetch(request, env), adapter)
      : adapter;
    serving = { options, listener };
    return createHttpServer(options, listener);
  }) as typeof createHttpServer;
  const server = await new Promise<ReturnType<typeof serve>>((ready, failed) => {
    // A port in use, or a HOST not of this machine: one line naming the setting (start-errors.ts).
    const refused = (err: unknown) => failed(listenError(err, config.HOST, config.PORT));
    const s = serve({ fetch: app.fetch, port: config.PORT, hostname: config.HOST, createServer }, () => {
      s.off("error", refused);
      ready(s);
    });
    s.once("error", refused);
  });
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : config.PORT;
  const internal = link && serving ? await listenInternal(dataDir, serving) : undefined;
  if (link && internal) link.announce(internal.socket);
  backend.serving?.();
  logger.info("cordon listening", {
    port,
    pid: process.pid,
    dataDir,
    backend: config.REDIS_URL ? "redis" : "embedded",
    ...(slot === undefined ? {} : { worker: slot }),
    ...(link ? { role: "writer" } : {}),
    ...(publisher ? { kvPublish: { signer: publisher.keyId } } : {}),
    geo: geo.geo.info(),
    rulesetVersion: holder.current().version,
  });
  // Only now: a start that failed before listening has shown and kept no token (DESIGN.md, Configuration).
  if (slot === undefined || slot === WRITER_SLOT) {
    await bootstrap.save();
    process.stdout.write(signInText(bootstrap, consoleAddress(config.HOST, port)));
  }
  const redisWatch =
    config.REDIS_URL && backend.redis
      ? watchRedis(backend.redis, config.REDIS_URL, logger, async () => {
          if (!holder.isLoaded()) await backend.compiler.refresh();
        })
      : undefined;

  return {
    port,
    async close() {
      // First: closing the event store ends the event streams, whose connections would hold the close.
      redisWatch?.stop();
      removeEventsListener();
      removeDistributeListener?.();
      link?.close();
      await reconciler.stop();
      await backend.enforcementEvents.close();
      await new Promise<void>((done) => server.close(() => done()));
      await internal?.close();
      geo.close();
      removePublishListener?.();
      await publisher?.stop();
      await backend.close();
    },
  };
}

/** The KV publisher when CORDON_SIGNING_KEY and the CF_* settings are set (all or none: `parseConfig`). */
async function kvPublisher(
  config: Config,
  clock: () => number,
  logger: Logger,
): Promise<KvPublisher | undefined> {
  const settings = kvPublishSettings(config);
  if (!settings) return undefined;
  try {
    return await KvPublisher.fromSettings(settings, { logger, clock });
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw configError([`CORDON_SIGNING_KEY: not a usable Ed25519 private key (${reason})`]);
  }
}

/** Degraded (not unready) while publishing fails: the Node side enforces regardless; the edge lags. */
function publisherHealth(publisher: KvPublisher): Pick<Readiness, "degraded" | "detail"> {
  const status = publisher.status();
  return { degraded: status.lastError !== undefined, detail: { ...status } };
}

interface Backend {
  orders: OrderStore;
  decisions: DecisionLog;
  /** Recompiles after order changes; its `holder` is what every check reads. */
  compiler: RulesetCompiler;
  reports: ReportService;
  ingest: IngestIndex;
  /** Enforcement events: a journal in the data directory, or the Redis stream every instance shares. */
  enforcementEvents: EnforcementEventStore;
  /**
   * I6: the per-period IP-hash keys in memory, over the backend's key store. `destroy(period)` is
   * what finalizing a half-year calls.
   */
  ipHashKeys: IpHashKeyRing;
  readiness: () => Readiness[];
  /** A commands client for others to share (the geo L2), in Redis mode. */
  redis?: RedisClient;
  /** Console sessions: in Redis (every instance shares them) or a file in the data directory. */
  sessions?: SessionStore<Language>;
  /** Called once the server listens: what waits for that (the embedded orders loading after a quick start). */
  serving?(): void;
  close(): Promise<void>;
}

/**
 * The embedded default: everything in CORDON_DATA_DIR, written by one process. The report also counts the
 * decision logs of embedded workers (`worker-<slot>/decisions`), asking the live ones through `link`
 * where their logs end.
 */
async function embeddedBackend(
  config: Config,
  dataDir: string,
  ipHashKey: Buffer,
  clock: () => number,
  logger: Logger,
  link: WriterLink | undefined,
): Promise<Backend> {
  // The order journal and the decision segments, on one directory under one lock; handed out apart.
  const dir = await FileStore.openServing(dataDir, { fsync: config.CORDON_DECISION_FSYNC, logger }).catch(
    (err: unknown) => {
      // Another Cordon holds the directory's lock: name the setting, as for any other start problem.
      if (err instanceof StoreUnavailableError) throw configError([`CORDON_DATA_DIR: ${err.message}`]);
      throw err;
    },
  );
  const { orders, decisions } = dir;
  const holder = new RulesetHolder(clock);
  const compiler = new RulesetCompiler(orders, holder, clock, { sha256: nodeSha256 });
  // Ready from the ruleset snapshot and the journal after it, when there is a usable one: the orders
  // load once the server listens (order routes answer 503 until then). Else as without one: the orders
  // first, then a compile of them all.
  const readAt = performance.now();
  const quick = await readRulesetAtHead(dir.root, logger);
  if (quick) {
    const compileAt = performance.now();
    await compiler.resume(quick.base, quick.changed, quick.head);
    logger.info("ruleset from its snapshot", {
      snapshotVersion: quick.from.seq,
      version: holder.current().version,
      entriesAfter: quick.head.seq - quick.from.seq,
      readMs: Math.round(compileAt - readAt),
      compileMs: Math.round(performance.now() - compileAt),
    });
  } else {
    await orders.load({ background: false }).catch(async (err: unknown) => {
      await dir.close().catch(() => undefined);
      throw err;
    });
    await compiler.refresh();
  }
  // A small store is loaded before listening all the same: no 503 after a restart for what costs little.
  const background = quick !== undefined && (await DeferredOrderJournal.worthBackground(dir.root));
  if (quick && !background)
    await orders.load({ background: false, known: quick.head }).catch(async (err: unknown) => {
      await dir.close().catch(() => undefined);
      throw err;
    });
  const snapshots = new RulesetSnapshotWriter(dir.root, {
    positionOf: (seq) => orders.positionOf(seq),
    logger,
    written: quick?.from.seq ?? 0,
  });
  const removeSnapshotListener = compiler.addCompiledListener(snapshots.offer);
  snapshots.offer(holder.current());
  const ipHashKeys = await IpHashKeyRing.open({
    store: await FileIpHashKeyStore.open(join(dataDir, "keys")),
    masterKey: ipHashKey,
    clock,
    logger,
    isNewDeployment: async () => (await orders.head()).seq === 0,
  });
  // Where each live worker's log ends: asked through the primary (none without workers).
  const ends = link ? () => link.followerEnds() : async () => new Map<number, string>();
  const aggregates = await WorkerAggregates.open(dataDir, { log: decisions, ends, logger });
  const reports = new ReportService({
    aggregates,
    catchUp: () => aggregates.catchUp(),
    orders: () => orders.listOrders(),
    clock,
    // Finalized reports beside the aggregates; the embedded log keeps every record, so they are read
    // back from it at finalization and archived.
    frozen: new FileFrozenReportStore(join(dataDir, "report")),
    records: (ids) => aggregates.records(ids),
    ...finalization(config, dataDir, orders, ipHashKeys),
  });
  const enforcementEvents = await EventJournal.open(join(dataDir, "events"), {
    retentionMs: config.CORDON_EVENTS_RETENTION_HOURS * 3_600_000,
    logger,
  });
  // Console sessions in the data directory: a restart signs no one out (worker 0 alone serves the console).
  const sessions = await FileSessionStore.open(join(dataDir, "sessions.json"), { clock, logger });
  return {
    orders,
    // Checks append to the writer's log; auditors page it and every worker's (worker-decisions.ts).
    decisions: new WorkerDecisions(decisions, dataDir, ends),
    compiler,
    reports,
    ingest: new FileIngestIndex(join(dataDir, "ingested"), decisions),
    enforcementEvents,
    ipHashKeys,
    // Not ready while the data directory cannot be written (a full disk): every check would answer 503.
    // The orders loading in the background make it degraded, not unready: checks need the ruleset only.
    readiness: () => [dir.readiness(), orders.readiness()],
    sessions,
    serving: () => {
      if (!quick || !background) return;
      // Nothing writes the journal before it is open (order routes answer 503), so it opens at the head
      // the ruleset was brought to; should it hold more, the compiler catches up from its audit entries.
      const loading = orders.load({ background: true, known: quick.head });
      loading.then(
        async (journal) => {
          logger.info("orders loaded", { ...orders.readiness().detail, head: (await journal.head()).seq });
          if ((await journal.head()).seq !== holder.current().version) await compiler.refresh();
        },
        (error: unknown) => {
          if (error instanceof OpenStoppedError) return; // a close (a stop) while the orders loaded
          logger.error("order store did not open: order routes answer 503", {
            error: error instanceof Error ? error.message : String(error),
          });
        },
      );
    },
    async close() {
      removeSnapshotListener();
      await snapshots.stop();
      await sessions.close();
      ipHashKeys.stop();
      await enforcementEvents.close();
      await aggregates.close();
      await dir.close();
    },
  };
}

/**
 * What finalizing a period needs beyond the backend's stores, the same on both backends: the audit head,
 * the manifest's signer (CORDON_SIGNING_KEY, else a key generated in the data directory: in Redis mode
 * each instance would make its own, so the README asks for the setting there), the grace days, and I6's
 * destruction of a finalized half-year's IP-hash key (months and quarters destroy none).
 */
function finalization(
  config: Config,
  dataDir: string,
  audit: ReportDeps["audit"],
  ipHashKeys: IpHashKeyRing,
): Pick<ReportDeps, "audit" | "signer" | "graceDays" | "onFinalized" | "publisher"> {
  const publisher = publisherOf(config.CORDON_REPORT_PUBLISHER, config.CORDON_REPORT_SERVICE);
  return {
    audit,
    signer: reportSigner(dataDir, { key: config.CORDON_SIGNING_KEY, keyId: config.CORDON_SIGNING_KEY_ID }),
    graceDays: config.CORDON_FINALIZE_GRACE_DAYS,
    ...(publisher ? { publisher } : {}),
    onFinalized: async (period) => {
      await ipHashKeys.destroy(period.id);
    },
  };
}

/**
 * Several instances on one Redis: orders and audit in RedisClient, decision records through a local outbox
 * to the Redis stream, rulesets published to every instance and kept on local disk. Starts even while
 * Redis is down, enforcing the last ruleset on disk (degraded), as long as one is there.
 */
async function redisBackend(
  url: string,
  config: Config,
  dataDir: string,
  ipHashKey: Buffer,
  clock: () => number,
  logger: Logger,
): Promise<Backend> {
  const keys = redisKeys(config.CORDON_REDIS_PREFIX, { partitions: config.CORDON_DECISION_PARTITIONS });
  const commands = createRedis(url, { name: "commands" });
  const subscriber = createRedis(url, { name: "subscriber" });
  const shipperRedis = createRedis(url, { name: "shipper", overrides: SHIPPER_REDIS_OVERRIDES });
  // The enforcement events' follower blocks in XREAD: a connection of its own, with room for the block.
  const eventReader = createRedis(url, { name: "events", commandTimeoutMs: FOLLOW_BLOCK_MS + 2000 });
  for (const client of [commands, subscriber, shipperRedis, eventReader]) {
    // ioredis reports every reconnection attempt as an error event; the components log what matters.
    client.on("error", () => undefined);
  }
  watchPersistence(commands, logger);
  // Opens on first use when Redis is down at start: checks are served from the disk ruleset meanwhile,
  // and order routes answer 503 until Redis is back. The audit chain is followed into a local mirror:
  // a Redis that comes back emptied is refused (503 naming `cordon restore`), never written over.
  const auditMirror = await AuditMirror.open(join(dataDir, "audit-mirror"), logger);
  const orders = new LazyOrderStore(
    async () =>
      new MirroredOrderStore(
        await RedisOrderStore.open(url, { prefix: config.CORDON_REDIS_PREFIX, logger }),
        auditMirror,
        { logger, followMs: config.CORDON_RULESET_POLL_MS },
      ),
  );
  // The outbox is a decision log alone, in a directory of its own with its own LOCK: one process per
  // outbox, or two shippers would send the same records.
  const outboxDir = join(dataDir, "outbox");
  const outbox = await SegmentLog.open(outboxDir, { fsync: config.CORDON_DECISION_FSYNC, logger });
  const decisions = await RedisDecisionLog.start({
    outbox,
    redis: commands,
    shipperRedis,
    keys,
    dataDir: outboxDir,
    logger,
    shipper: {
      retentionMs: config.CORDON_OUTBOX_RETENTION_HOURS * 3_600_000,
      coalesceMs: config.CORDON_SHIP_DELAY_MS,
    },
  });
  const holder = new RulesetHolder(clock);
  const compiler = new RulesetCompiler(orders, holder, clock, { sha256: nodeSha256 });
  const sync = await RulesetSync.start({
    compiler,
    channel: new RedisRulesetChannel(commands, subscriber, keys),
    mirror: new DiskMirror(join(dataDir, "ruleset.mirror"), logger),
    trustsEpoch: (epoch) => auditMirror.trusts(epoch),
    pollMs: config.CORDON_RULESET_POLL_MS,
    logger,
    clock,
  });
  // Compile what Redis holds (and publish it if Redis has no ruleset yet); during an outage the sync
  // has already installed the last ruleset from disk, and it catches up when Redis returns.
  await compiler.refresh().catch((error: unknown) => {
    if (!(error instanceof StoreUnavailableError)) throw error;
    logger.warn("redis unavailable at start: enforcing the last known ruleset", {
      version: holder.current().version,
    });
  });
  // The report reads the decision streams through the `report` consumer group; each instance is one
  // consumer, and each partition's aggregates move with its checkpoint in one script (a re-read entry is
  // skipped), so any instance can answer a report request.
  // After the first compile, so the commands client has had its chance to connect; during an outage
  // the instance seals with the wrapped keys it mirrored on disk.
  const ipHashKeys = await IpHashKeyRing.open({
    store: await RedisIpHashKeyStore.open({
      redis: commands,
      keys,
      masterKey: ipHashKey,
      mirrorDir: join(dataDir, "ip-hash-keys"),
      clock,
      logger,
    }),
    masterKey: ipHashKey,
    clock,
    logger,
    isNewDeployment: async () => (await orders.head()).seq === 0,
  });
  const aggregates = new RedisAggregateStore(commands, keys);
  const reports = new ReportService({
    aggregates,
    catchUp: () =>
      runFromStream(commands, keys, aggregates, {
        consumer: `instance-${hostname()}-${process.pid}`,
        logger,
      }),
    orders: () => orders.listOrders(),
    clock,
    // The streams keep a period's records until they are archived (stream-trimmer.ts): read back from them.
    frozen: new RedisFrozenReportStore(commands, keys),
    records: (ids) => streamRecords(commands, keys, ids),
    ...finalization(config, dataDir, orders, ipHashKeys),
  });
  const readiness = (): Readiness[] => {
    const shipper = decisions.shipper?.status();
    return [
      sync.readiness(),
      // The local outbox: not ready while it cannot be written (a full disk), as in embedded mode.
      outbox.readiness("decision-outbox"),
      {
        name: "decision-stream",
        ready: true,
        degraded: shipper?.degraded ?? false,
        ...(shipper ? { detail: { ...shipper } } : {}),
      },
    ];
  };
  const enforcementEvents = new RedisEnforcementEvents({
    redis: commands,
    reader: eventReader,
    keys: keys.enforcement,
    rulesetEpochKey: keys.rulesetEpoch,
    retentionMs: config.CORDON_EVENTS_RETENTION_HOURS * 3_600_000,
    logger,
  });
  return {
    orders,
    decisions,
    compiler,
    reports,
    ingest: new RedisIngestIndex(commands, keys.ingested),
    enforcementEvents,
    ipHashKeys,
    readiness: () => readiness().map((r) => ({ ...r, degraded: r.degraded ?? r.detail?.degraded === true })),
    redis: commands,
    sessions: new RedisSessionStore({ redis: commands, keys: keys.sessions, clock }),
    async close() {
      ipHashKeys.stop();
      await sync.stop();
      await enforcementEvents.close();
      // The shipper stops (after a short flush) before the outbox it reads is closed.
      await decisions.close();
      await orders.close();
      await outbox.close();
      for (const client of [commands, subscriber, shipperRedis, eventReader]) client.disconnect();
    },
  };
}

/**
 * The geo chain: L1 (in process) over the MaxMind web service with the Redis L2 in front of it, or over
 * a local database (the bundled one by default). The L2 is used for the web service only by default:
 * in front of a local mmdb it made lookups 7x slower (bench/README.md, "GeoIP L2 in Redis").
 */
export async function buildGeo(
  config: Config,
  hashIp: (ip: string) => string,
  redis: RedisClient | undefined,
  logger: Logger,
): Promise<{ geo: Geo; close(): void }> {
  const l2 = (source: VersionedGeo, wanted: boolean): Geo =>
    redis && wanted
      ? new RedisGeoCache(source, {
          redis,
          keys: redisKeys(config.CORDON_REDIS_PREFIX, { partitions: config.CORDON_DECISION_PARTITIONS }),
          hashIp,
          ttlSeconds: config.CORDON_GEO_L2_TTL_SECONDS,
        })
      : source;
  if (config.MAXMIND_ACCOUNT_ID && config.MAXMIND_LICENSE_KEY) {
    const source = new WebServiceGeo({
      accountId: config.MAXMIND_ACCOUNT_ID,
      licenseKey: config.MAXMIND_LICENSE_KEY,
      endpoint: config.MAXMIND_ENDPOINT,
      baseUrl: `https://${config.MAXMIND_HOST}`,
      timeoutMs: config.MAXMIND_TIMEOUT_MS,
      logger,
    });
    const geo = new CachedGeo(l2(source, config.CORDON_GEO_L2 !== "off"), {
      max: Math.max(1, config.CORDON_GEO_CACHE_SIZE),
      ttlMs: config.CORDON_GEO_L2_TTL_SECONDS * 1000,
    });
    return { geo, close: () => undefined };
  }
  const path = config.CORDON_GEOIP_DB ? resolve(config.CORDON_GEOIP_DB) : defaultDatabasePath();
  // Long-lived: the cache lives as long as the process; a reloaded database clears it.
  let cached: CachedGeo | undefined;
  const source = await ReloadingGeo.open(path, { logger, onReload: () => cached?.clear() }).catch(
    (err: unknown) => {
      if (!config.CORDON_GEOIP_DB) throw err;
      // A missing file, a directory, an unreadable file: named; any other is not a MaxMind database.
      if (errorCode(err) !== undefined) throw settingFileError("CORDON_GEOIP_DB", path, err);
      throw configError([`CORDON_GEOIP_DB: ${path} is not a MaxMind database (GeoIP2/GeoLite2 .mmdb)`]);
    },
  );
  const inner = l2(source, config.CORDON_GEO_L2 === "on");
  cached =
    config.CORDON_GEO_CACHE_SIZE > 0
      ? new CachedGeo(inner, { max: config.CORDON_GEO_CACHE_SIZE })
      : undefined;
  return { geo: cached ?? inner, close: () => source.close() };
}

/** The MaxMind DB format's metadata marker, within the last 128 KiB of every .mmdb file. */
const MMDB_MARKER = Buffer.concat([Buffer.from([0xab, 0xcd, 0xef]), Buffer.from("MaxMind.com")]);

/** CORDON_GEOIP_DB names a readable MaxMind database file, or the start stops naming it. */
async function checkGeoDatabase(path: string): Promise<void> {
  const problem = (what: string) => configError([`CORDON_GEOIP_DB: ${path} ${what}`]);
  const handle = await open(path, "r").catch((err: unknown) => {
    throw settingFileError("CORDON_GEOIP_DB", path, err);
  });
  try {
    const stats = await handle.stat();
    if (stats.isDirectory()) throw problem("is a directory, not a database file");
    const length = Math.min(stats.size, 128 * 1024);
    const tail = Buffer.alloc(length);
    await handle.read(tail, 0, length, stats.size - length);
    if (tail.indexOf(MMDB_MARKER) < 0) throw problem("is not a MaxMind database (GeoIP2/GeoLite2 .mmdb)");
  } catch (err) {
    throw settingFileError("CORDON_GEOIP_DB", path, err);
  } finally {
    await handle.close();
  }
}

/** Where people open the console: this host, or the loopback when listening on every address. */
function consoleAddress(host: string, port: number): string {
  const shown = host === "0.0.0.0" || host === "::" ? "localhost" : host.includes(":") ? `[${host}]` : host;
  return `http://${shown}:${port}/console`;
}

/**
 * What `npm start` prints on stdout once the server listens: on a first start, the generated tokens
 * (shown this once: only their SHA-256 digests are kept); on a later one, where the tokens are and how to
 * get new ones. Nothing about tokens when CORDON_TOKENS sets them.
 */
export function signInText(bootstrap: TokenBootstrap, consoleUrl: string): string {
  const { generated, file } = bootstrap;
  const lines = [`Cordon is listening. Console: ${consoleUrl}`];
  if (generated.length > 0) {
    lines.push(
      "",
      "Generated one API token per role (CORDON_TOKENS is unset). They are shown this once: only their",
      `SHA-256 digests are kept, in ${file}. Sign in to the console with one of them.`,
      "",
      ...generated.map((t) => `  ${t.role.padEnd(10)} ${t.principal.padEnd(12)} ${t.secret}`),
      "",
      `Lost them? Stop Cordon, delete ${file} and start again for new ones, or set CORDON_TOKENS.`,
    );
  } else if (file) {
    lines.push(
      `API tokens: the ones generated at the first start (digests kept in ${file}; the secrets were`,
      `printed then and are not kept). For new ones: stop Cordon, delete ${file} and start again, or set CORDON_TOKENS.`,
    );
  }
  return `${lines.join("\n")}\n\n`;
}

/** How often an unreachable Redis is reported (one error line per interval). */
const REDIS_DOWN_LOG_MS = 10_000;

/**
 * Redis mode with Redis unreachable (at start, or later): the readiness says not ready while no ruleset
 * is loaded (a first start) and degraded otherwise; this says why, loudly, once per interval (not
 * ioredis' own message for every attempt), and once when Redis answers again. A start that could not
 * compile (Redis was down) compiles when Redis is back: the sync alone only installs a ruleset Redis
 * already holds. The URL is shown without its credentials.
 */
function watchRedis(
  redis: RedisClient,
  url: string,
  logger: Logger,
  whenBack: () => Promise<void>,
): { stop(): void } {
  const where = url.replace(/\/\/[^@/]*@/, "//");
  let downSince: number | undefined;
  let loggedAt = 0;
  const look = () => {
    const now = Date.now();
    if (redis.status === "ready") {
      if (downSince === undefined) return;
      downSince = undefined;
      loggedAt = 0;
      logger.info("redis reachable again", { redis: where });
      whenBack().catch((error: unknown) =>
        logger.warn("compile after redis came back failed; the sync retries", { error: String(error) }),
      );
      return;
    }
    downSince ??= now;
    if (now - loggedAt < REDIS_DOWN_LOG_MS) return;
    loggedAt = now;
    logger.error(
      "redis unreachable (REDIS_URL): order routes answer 503; checks use the last ruleset on disk, if any (see /readyz)",
      { redis: where, downForSeconds: Math.round((now - downSince) / 1000) },
    );
  };
  look();
  const timer = setInterval(look, 500);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}

/**
 * The writer's second listener, for the followers' hand-overs: a Unix socket in the data directory
 * (private to its owner), or in a private temporary directory when that path is too long for a socket.
 * Only here is the client address a follower names believed (writer-proxy.ts).
 */
async function listenInternal(
  dataDir: string,
  serving: { options: ServerOptions; listener: RequestListener },
): Promise<{ socket: string; close(): Promise<void> }> {
  let socket = join(dataDir, "writer.sock");
  if (Buffer.byteLength(socket) > 100) socket = join(await mkdtemp(join(tmpdir(), "cordon-")), "writer.sock");
  await unlink(socket).catch(() => undefined); // left by a writer that was killed
  const server: Server = createHttpServer(serving.options, serving.listener);
  server.on("connection", (s) => internalSockets.add(s));
  // `exclusive`: this socket is this process's own, not one node:cluster shares among the workers.
  server.listen({ path: socket, exclusive: true });
  await once(server, "listening");
  await chmod(socket, 0o600);
  return {
    socket,
    async close() {
      const closed = new Promise<void>((done) => server.close(() => done()));
      server.closeAllConnections();
      await closed;
    },
  };
}
