/**
 * A follower of the embedded multi-worker mode (CORDON_WORKERS > 1 without REDIS_URL, slots 1..N-1):
 * answers the meeting-join checks its fast path takes, on the rulesets the writer (slot 0) distributes,
 * writing their records to a decision log of its own (`<data dir>/worker-<slot>`, one writer: this
 * process); hands every other request to the writer (writer-proxy.ts). It writes nothing else in the data
 * directory but the IP-hash key of a new half-year, which the key store creates safely from any number
 * of processes (store/file/ip-hash-keys.ts). See workers.md.
 */
import { createHash } from "node:crypto";
import { once } from "node:events";
import { createServer } from "node:http";
import { join, resolve } from "node:path";
import type { Config } from "../../config/node.js";
import { BATCH_BODY_LIMIT, BODY_LIMIT, toErrorResponse } from "../../http/app.js";
import { checkFastPath } from "../../http/routes/check-fast-path.js";
import { SERVER_CHECKS } from "../../http/routes/v1-check.js";
import type { Logger } from "../../kernel/logger.js";
import { RulesetHolder } from "../../rulesets/holder.js";
import { Authenticator } from "../../service/auth.js";
import { randomUuid } from "../../service/uuid.js";
import { FileIpHashKeyStore } from "../../store/file/ip-hash-keys.js";
import { SegmentLog } from "../../store/file/segment-log.js";
import { nodeCheckFront } from "./check-front.js";
import { nodeClientAddress } from "./client-address.js";
import { IpHashKeyRing } from "./ip-hash-ring.js";
import { receivedRuleset } from "./ruleset-message.js";
import { ipHasher, loadIpHashKey, loadTokens } from "./secrets.js";
import type { Running } from "./start.js";
import { buildGeo } from "./start.js";
import { FollowerLink } from "./worker-link.js";
import { writerProxy } from "./writer-proxy.js";

/** How long a follower waits for the writer to keep generated tokens (it does so once it listens). */
const FOLLOWER_TOKENS_WAIT_MS = 60_000;

export async function startFollower(config: Config, logger: Logger, slot: number): Promise<Running> {
  const root = resolve(config.CORDON_DATA_DIR);
  const clock = () => Date.now();
  // Its own log, under its own lock: no file of the data directory is appended to by two processes.
  const decisions = await SegmentLog.open(join(root, `worker-${slot}`), {
    fsync: config.CORDON_DECISION_FSYNC,
    logger,
  });
  // Long-lived: filled only by the writer's distributions, before this worker answers any check.
  const holder = new RulesetHolder(clock);
  const link = new FollowerLink(
    (json, delta) => {
      try {
        const base = holder.isLoaded() ? holder.current() : undefined;
        holder.install(receivedRuleset(json, delta, base), "compile");
      } catch (err) {
        // Not acknowledged then: the primary replaces this worker rather than let it check on an old one.
        logger.error("worker: could not install the writer's ruleset", { error: String(err) });
        return false;
      }
      return true;
    },
    () => decisions.end(),
  );
  await link.loaded();

  // The writer started first (its ruleset came): the IP-hash key exists in the data directory, and
  // generated tokens' digests do once the writer listens (it keeps them only then).
  const { tokens } = await loadTokens(root, config.CORDON_TOKENS, { waitMs: FOLLOWER_TOKENS_WAIT_MS });
  const ipHashKey = await loadIpHashKey(root, config.CORDON_IP_HASH_KEY);
  const ipHashKeys = await IpHashKeyRing.open({
    store: await FileIpHashKeyStore.open(join(root, "keys")),
    masterKey: ipHashKey,
    clock,
    logger,
  });
  const geo = await buildGeo(config, ipHasher(ipHashKey), undefined, logger);
  const fast = checkFastPath({
    services: {
      rulesets: holder,
      geo: geo.geo,
      decisions,
      auth: new Authenticator(tokens, (secret) => createHash("sha256").update(secret).digest()),
      clock,
      hashIp: (ip, at) => ipHashKeys.hashIp(ip, at),
      newId: randomUuid,
      logger,
      readiness: () => [decisions.readiness()],
      clientAddress: nodeClientAddress,
    },
    variant: SERVER_CHECKS,
    checkLimit: BODY_LIMIT,
    batchLimit: BATCH_BODY_LIMIT,
    errorAnswer: (err, requestId) => toErrorResponse(err, requestId, logger),
  });
  const proxy = writerProxy(() => link.writerSocket(), logger);
  const server = createServer(
    { keepAliveTimeout: 5000 },
    nodeCheckFront(fast, (request, env) => proxy.fetch(request, env.incoming), proxy.pass),
  );
  server.listen({ port: config.PORT, host: config.HOST });
  await once(server, "listening");
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : config.PORT;
  logger.info("cordon listening", {
    port,
    pid: process.pid,
    dataDir: root,
    backend: "embedded",
    role: "follower",
    worker: slot,
    geo: geo.geo.info(),
    rulesetVersion: holder.current().version,
  });
  return {
    port,
    async close() {
      const closed = new Promise<void>((done) => server.close(() => done()));
      server.closeIdleConnections();
      // Event streams handed to the writer end when it stops; do not wait on a client that lingers.
      const linger = setTimeout(() => server.closeAllConnections(), 3000);
      await closed;
      clearTimeout(linger);
      proxy.close();
      link.close();
      geo.close();
      ipHashKeys.stop();
      // Flushes what was appended: every answered check's record is in the log before the exit.
      await decisions.close();
    },
  };
}
