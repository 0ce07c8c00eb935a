/**
 * A real Redis Cluster per test file: three masters with a replica each, six `redis-server` processes
 * on loopback ports, every one with AOF (`appendfsync always`), formed by `redis-cli --cluster create`.
 * Tests kill nodes (SIGKILL), wait for a replica to take over, restart nodes, or take the whole cluster
 * down and up again (`whole`, shaped like the single server of `support/redis.ts`).
 *
 * Short `cluster-node-timeout` (1 s) and no replica validity limit, so a failover takes a couple of
 * seconds; diskless replication without delay, so a replica is in sync right after creation.
 *
 * For tests of a key's shard under load (the decision stream, the report aggregates): start the load,
 * `const master = await cluster.masterFor(key)`, `await cluster.kill(master)`, `await
 * cluster.waitForFailover(master)`; writes acknowledged before the kill and replicated (WAIT) must be
 * on the promoted replica; writes in flight fail with CLUSTERDOWN or a closed connection until the
 * client learns the new master. `cluster.pause(master)` (SIGSTOP) makes the shard slow instead of gone.
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { once } from "node:events";
import { mkdir, mkdtemp, readFile, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { Redis } from "ioredis";
import type { RedisServer } from "./redis.js";

const run = promisify(execFile);

/** Milliseconds before an unreachable node is judged failed; a failover follows within about twice this. */
export const NODE_TIMEOUT_MS = 1000;

export type NodeRole = "master" | "replica";

export interface ClusterNode {
  port: number;
  /** The cluster's id of the node (CLUSTER MYID). */
  id: string;
  /** The role it had when last looked at (`roles()`, `waitForFailover`, `masterFor` refresh it). */
  role: NodeRole;
  /** For a replica, the id of its master. */
  masterId?: string;
  /** Its data directory (nodes.conf and the AOF). */
  dir: string;
}

export interface RedisCluster {
  /** `redis-cluster://127.0.0.1:p1,...`: every node, as REDIS_URL names a cluster. */
  url: string;
  nodes: ClusterNode[];
  /** The current roles, as the running nodes see them. */
  roles(): Promise<ClusterNode[]>;
  masters(): Promise<ClusterNode[]>;
  /** The master that serves the slot of `key` now. */
  masterFor(key: string): Promise<ClusterNode>;
  /** The replicas of `master` now. */
  replicasOf(master: ClusterNode): Promise<ClusterNode[]>;
  /** SIGKILL: no save, connections reset. */
  kill(node: ClusterNode): Promise<void>;
  /** SIGSTOP / SIGCONT: a node that holds its connections and answers nothing. */
  pause(node: ClusterNode): void;
  resume(node: ClusterNode): void;
  running(node: ClusterNode): boolean;
  /** Starts a killed node again on its port and data (it rejoins: a former master as a replica). */
  restart(node: ClusterNode): Promise<void>;
  /**
   * Waits until a replica of `oldMaster` (killed or paused) serves its slots as master and the cluster
   * is whole again (`cluster_state:ok` on every running node, every slot served); the new master.
   */
  waitForFailover(
    oldMaster: ClusterNode,
    timeoutMs?: number,
    options?: FailoverOptions,
  ): Promise<ClusterNode>;
  /** Until every running node says `cluster_state:ok` and its masters serve all 16384 slots. */
  waitHealthy(timeoutMs?: number): Promise<void>;
  /** One command on one node (its own connection, READONLY: a replica answers reads), e.g. `INFO replication`. */
  command(node: ClusterNode, ...args: (string | number)[]): Promise<unknown>;
  /** The whole cluster as one server: kill, pause or restart every node at once (the single-Redis faults). */
  whole: RedisServer;
  /** Kills every node and removes the directories. */
  close(): Promise<void>;
}

export interface FailoverOptions {
  /**
   * When no replica has taken over by half the timeout, promote one with CLUSTER FAILOVER TAKEOVER
   * (with a warning and its log). Default true: tests of Cordon across a failover need the failover,
   * not Redis' election; the support test of the election itself says false.
   */
  takeover?: boolean;
}

export interface StartClusterOptions {
  /** Masters; each gets one replica. Default 3. */
  masters?: number;
}

export async function startRedisCluster(options: StartClusterOptions = {}): Promise<RedisCluster> {
  const masters = options.masters ?? 3;
  // Ports collide now and then (another file's cluster, an outgoing connection): start over elsewhere.
  for (let attempt = 1; ; attempt++) {
    try {
      return await tryStart(masters * 2);
    } catch (err) {
      if (attempt >= 3) throw err;
    }
  }
}

async function tryStart(count: number): Promise<RedisCluster> {
  const base = await mkdtemp(join(tmpdir(), "cordon-cluster-"));
  const ports = await clusterPorts(count);
  const processes = new Map<number, ChildProcess>();
  let generation = 0;
  const nodes: ClusterNode[] = ports.map((port) => ({
    port,
    id: "",
    role: "master",
    dir: join(base, String(port)),
  }));
  const byPort = (port: number) => nodes.find((n) => n.port === port);

  const running = (node: ClusterNode) => {
    const child = processes.get(node.port);
    return child !== undefined && child.exitCode === null && child.signalCode === null;
  };

  const startNode = async (node: ClusterNode) => {
    await mkdir(node.dir, { recursive: true });
    const child = spawn(
      "redis-server",
      [
        "--port",
        String(node.port),
        "--bind",
        "127.0.0.1",
        "--dir",
        node.dir,
        "--cluster-enabled",
        "yes",
        "--cluster-config-file",
        "nodes.conf",
        "--cluster-node-timeout",
        String(NODE_TIMEOUT_MS),
        // A replica may always take over, however long its master was away: tests kill on purpose.
        "--cluster-replica-validity-factor",
        "0",
        "--appendonly",
        "yes",
        "--appendfsync",
        "always",
        "--appenddirname",
        `aof-${generation}`,
        "--save",
        "",
        "--repl-diskless-sync",
        "yes",
        "--repl-diskless-sync-delay",
        "0",
        // Kept in the node's directory: a failover that does not come is explained by its replica's log.
        "--logfile",
        "redis.log",
        "--loglevel",
        "notice",
      ],
      { stdio: "ignore" },
    );
    processes.set(node.port, child);
    const deadline = Date.now() + 10_000;
    for (;;) {
      if (child.exitCode !== null)
        throw new Error(`redis-server on ${node.port} exited with ${child.exitCode}`);
      if ((await ping(node.port)) === "PONG") return;
      if (Date.now() > deadline) throw new Error(`redis-server on ${node.port} did not start in 10 s`);
      await sleep(20);
    }
  };

  const kill = async (node: ClusterNode) => {
    const child = processes.get(node.port);
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = once(child, "exit");
    child.kill("SIGCONT");
    child.kill("SIGKILL");
    await exited;
  };

  const close = async () => {
    await Promise.all(nodes.map(kill));
    // An AOF rewrite forked by a node outlives its SIGKILL for a moment, still writing in the directory.
    await rm(base, { recursive: true, force: true, maxRetries: 20, retryDelay: 100 });
  };

  /** The cluster as the running nodes see it: CLUSTER NODES of the first one that answers. */
  const roles = async (): Promise<ClusterNode[]> => {
    let text: string | undefined;
    for (const node of nodes.filter(running)) {
      text = (await command(node.port, "CLUSTER", "NODES").catch(() => undefined)) as string | undefined;
      if (text !== undefined) break;
    }
    if (text === undefined) throw new Error("no node of the cluster answers");
    for (const line of text.trim().split("\n")) {
      const [id, address, flags, masterId] = line.split(" ");
      const node = byPort(Number(/:(\d+)@/.exec(address ?? "")?.[1]));
      if (!node || !id || !flags) continue;
      node.id = id;
      node.role = flags.split(",").includes("master") ? "master" : "replica";
      if (node.role === "replica" && masterId && masterId !== "-") node.masterId = masterId;
      else delete node.masterId;
    }
    return nodes;
  };

  const waitHealthy = async (timeoutMs = 15_000) => {
    await until(timeoutMs, "the cluster to be healthy (cluster_state:ok, every slot served)", async () => {
      for (const node of nodes.filter(running)) {
        const info = String(await command(node.port, "CLUSTER", "INFO"));
        if (!/^cluster_state:ok\r?$/m.test(info)) return false;
        if (!/^cluster_slots_ok:16384\r?$/m.test(info)) return false;
      }
      // And every replica that runs has its copy (WAIT and a failover depend on it).
      await roles();
      for (const node of nodes.filter((n) => running(n) && n.role === "replica")) {
        const info = String(await command(node.port, "INFO", "replication"));
        if (!/^master_link_status:up\r?$/m.test(info)) return false;
      }
      return true;
    });
  };

  /** The slot's master according to a running master that is itself healthy. */
  const masterFor = async (key: string): Promise<ClusterNode> => {
    await roles();
    const asked = nodes.find((n) => running(n) && n.role === "master") ?? nodes.find(running);
    if (!asked) throw new Error("no node of the cluster runs");
    const slot = Number(await command(asked.port, "CLUSTER", "KEYSLOT", key));
    const ranges = (await command(asked.port, "CLUSTER", "SLOTS")) as [number, number, [string, number]][];
    const range = ranges.find(([from, to]) => from <= slot && slot <= to);
    const master = range ? byPort(Number(range[2][1])) : undefined;
    if (!master) throw new Error(`no master serves slot ${slot} (of ${key})`);
    return master;
  };

  const waitForFailover = async (
    oldMaster: ClusterNode,
    timeoutMs = 15_000,
    { takeover = true }: FailoverOptions = {},
  ): Promise<ClusterNode> => {
    const oldId = oldMaster.id;
    let promoted: ClusterNode | undefined;
    const takenOver = async () => {
      await roles();
      promoted = nodes.find((n) => n !== oldMaster && running(n) && n.role === "master" && formerly(n));
      return promoted !== undefined;
    };
    try {
      await until(
        takeover ? timeoutMs / 2 : timeoutMs,
        `a replica of ${oldMaster.port} to take over`,
        takenOver,
      );
    } catch (err) {
      if (!takeover) {
        const logs = await Promise.all(
          nodes.filter((n) => n !== oldMaster && formerly(n)).map((n) => logTail(n)),
        );
        throw new Error(`${(err as Error).message}\n${logs.join("\n")}`);
      }
      // Redis' own election lost its votes (seen once in CI, on a loaded machine: a replica's vote
      // requests time out and each retry waits twice the node timeout). These tests are about Cordon
      // across a failover, not about the election: promote the replica as an operator would, and say so
      // with the replica's log.
      const replicas = nodes.filter((n) => n !== oldMaster && running(n) && formerly(n));
      const logs = await Promise.all(replicas.map((n) => logTail(n)));
      console.warn(
        `no replica of ${oldMaster.port} took over in ${timeoutMs / 2} ms; CLUSTER FAILOVER TAKEOVER on ${replicas.map((n) => n.port).join(", ")}\n${logs.join("\n")}`,
      );
      const first = replicas[0];
      if (first) await command(first.port, "CLUSTER", "FAILOVER", "TAKEOVER").catch(() => undefined);
      await until(timeoutMs / 2, `a replica of ${oldMaster.port} to take over (after TAKEOVER)`, takenOver);
    }
    // The rest of the cluster agrees (its views converge within a node timeout or so).
    await until(timeoutMs, "the cluster to be whole after the failover", async () => {
      for (const node of nodes.filter((n) => running(n) && n !== oldMaster)) {
        const info = String(await command(node.port, "CLUSTER", "INFO"));
        if (!/^cluster_state:ok\r?$/m.test(info) || !/^cluster_slots_ok:16384\r?$/m.test(info)) return false;
      }
      return true;
    });
    return promoted as ClusterNode;

    function formerly(node: ClusterNode): boolean {
      return replicaIds.get(node.port) === oldId;
    }
  };

  // Who replicated whom at the last settled moment: a promoted replica no longer says whose it was.
  const replicaIds = new Map<number, string>();
  const remember = async () => {
    await roles();
    for (const node of nodes) if (node.masterId) replicaIds.set(node.port, node.masterId);
    // And each running replica as it sees itself: the first node's view may not have heard yet that a
    // node restarted after a failover now replicates a master (a failover of that master then found no
    // replica to wait for, seen in CI).
    for (const node of nodes.filter(running)) {
      const text = String((await command(node.port, "CLUSTER", "NODES").catch(() => "")) ?? "");
      const mine = text.split("\n").find((line) => line.split(" ")[2]?.split(",").includes("myself"));
      const [, , flags, masterId] = mine?.split(" ") ?? [];
      if (flags?.split(",").includes("slave") && masterId && masterId !== "-")
        replicaIds.set(node.port, masterId);
    }
  };

  const pause = (node: ClusterNode) => processes.get(node.port)?.kill("SIGSTOP");
  const resume = (node: ClusterNode) => processes.get(node.port)?.kill("SIGCONT");

  try {
    await Promise.all(nodes.map(startNode));
    await run("redis-cli", [
      "--cluster",
      "create",
      ...ports.map((p) => `127.0.0.1:${p}`),
      "--cluster-replicas",
      "1",
      "--cluster-yes",
    ]);
    await waitHealthy();
    await remember();
  } catch (err) {
    await close();
    throw err;
  }

  const cluster: RedisCluster = {
    url: `redis-cluster://${ports.map((p) => `127.0.0.1:${p}`).join(",")}`,
    nodes,
    roles,
    masters: async () => (await roles()).filter((n) => n.role === "master"),
    masterFor,
    replicasOf: async (master) => (await roles()).filter((n) => n.masterId === master.id),
    kill: async (node) => {
      await remember().catch(() => undefined);
      await kill(node);
    },
    pause: (node) => {
      void remember().catch(() => undefined);
      pause(node);
    },
    resume,
    running,
    restart: async (node) => {
      await startNode(node);
      await waitHealthy();
      await remember();
    },
    waitForFailover: async (oldMaster, timeoutMs, options) => {
      const promoted = await waitForFailover(oldMaster, timeoutMs, options);
      await remember();
      return promoted;
    },
    waitHealthy,
    command: (node, ...args) => command(node.port, ...args),
    whole: {
      port: ports[0] as number,
      url: "",
      dir: base,
      async start(opts = {}) {
        // A fresh start loses every node's data, keeping nodes.conf: the same cluster, empty.
        if (opts.fresh) generation++;
        await Promise.all(nodes.filter((n) => !running(n)).map(startNode));
        await waitHealthy();
        await remember();
      },
      kill: async () => {
        await Promise.all(nodes.map(kill));
      },
      pause: () => {
        for (const node of nodes) pause(node);
      },
      resume: () => {
        for (const node of nodes) resume(node);
      },
      running: () => nodes.every(running),
      close,
    },
    close,
  };
  cluster.whole.url = cluster.url;
  return cluster;
}

/**
 * `count` ports from 10000-19999 that are free, each with its cluster bus port (+10000, so 20000-29999)
 * free too: below the kernel's ephemeral range (32768 and up), so no outgoing connection takes one
 * meanwhile, and no node's port is another's bus port.
 */
/** The last lines of a node's log (its directory's redis.log), for a failure message. */
async function logTail(node: ClusterNode, lines = 30): Promise<string> {
  const text = await readFile(join(node.dir, "redis.log"), "utf8").catch(
    (err: Error) => `(no log: ${err.message})`,
  );
  return `--- ${node.port} (${node.dir}/redis.log)\n${text.trim().split("\n").slice(-lines).join("\n")}`;
}

async function clusterPorts(count: number): Promise<number[]> {
  const ports: number[] = [];
  while (ports.length < count) {
    const port = 10_000 + Math.floor(Math.random() * 10_000);
    if (ports.includes(port)) continue;
    if ((await isFree(port)) && (await isFree(port + 10_000))) ports.push(port);
  }
  return ports;
}

async function isFree(port: number): Promise<boolean> {
  const server = createServer();
  return new Promise((resolve) => {
    server.once("error", () => resolve(false));
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
  });
}

/** One command on its own short-lived connection; rejects when the node does not answer within 1 s. */
async function command(port: number, ...args: (string | number)[]): Promise<unknown> {
  const client = new Redis({
    port,
    host: "127.0.0.1",
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    connectTimeout: 1000,
    commandTimeout: 1000,
  });
  client.on("error", () => undefined);
  try {
    await client.connect();
    // A replica answers reads of its master's keys only once told that stale reads are fine.
    await client.call("READONLY");
    const [name, ...rest] = args;
    return await client.call(String(name), ...rest.map(String));
  } finally {
    client.disconnect();
  }
}

async function ping(port: number): Promise<unknown> {
  return command(port, "PING").catch(() => undefined);
}

async function until(ms: number, what: string, condition: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await condition().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(50);
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
