/**
 * A real redis-server per test file, on a free loopback port, that a test can kill, stop and restart
 * (keeping or losing its data). Never a mock: Cordon's Redis paths are tested against the real thing.
 * `.ci/run` installs redis-server when the machine lacks it.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer, Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  await new Promise<void>((done) => server.close(() => done()));
  return port;
}

async function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = new Socket();
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
    socket.connect(port, "127.0.0.1");
  });
}

export interface RedisServer {
  port: number;
  url: string;
  dir: string;
  /** Starts (again) on the same port. With `fresh`, the data from before is gone ("restarted with data lost"). */
  start(opts?: { fresh?: boolean }): Promise<void>;
  /** SIGKILL: no save, connections reset. */
  kill(): Promise<void>;
  /** Pauses the process (SIGSTOP) to make it slow/unresponsive, and resumes it (SIGCONT). */
  pause(): void;
  resume(): void;
  running(): boolean;
  /** Kills it and removes its directory. */
  close(): Promise<void>;
}

export async function startRedis(): Promise<RedisServer> {
  const port = await freePort();
  const dir = await mkdtemp(join(tmpdir(), "cordon-redis-"));
  let child: ChildProcess | undefined;
  let generation = 0;

  const start = async (opts: { fresh?: boolean } = {}) => {
    if (opts.fresh) generation++;
    // appendonly with fsync always: a kill keeps what was acknowledged, like a production Redis with AOF.
    child = spawn(
      "redis-server",
      [
        "--port",
        String(port),
        "--bind",
        "127.0.0.1",
        "--dir",
        dir,
        "--appendonly",
        "yes",
        "--appendfsync",
        "always",
        "--appenddirname",
        `aof-${generation}`,
        "--save",
        "",
        "--loglevel",
        "warning",
      ],
      { stdio: "ignore" },
    );
    const deadline = Date.now() + 10_000;
    while (!(await canConnect(port))) {
      if (child.exitCode !== null) throw new Error(`redis-server exited with ${child.exitCode}`);
      if (Date.now() > deadline) throw new Error("redis-server did not start in 10 s");
      await new Promise((r) => setTimeout(r, 25));
    }
  };

  const kill = async () => {
    const c = child;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const exited = once(c, "exit");
    c.kill("SIGCONT");
    c.kill("SIGKILL");
    await exited;
  };

  await start();
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    dir,
    start,
    kill,
    pause: () => child?.kill("SIGSTOP"),
    resume: () => child?.kill("SIGCONT"),
    running: () => child !== undefined && child.exitCode === null && child.signalCode === null,
    async close() {
      await kill();
      // A killed server's AOF rewrite child may still write there for a moment (as in redis-cluster.ts).
      await rm(dir, { recursive: true, force: true, maxRetries: 20, retryDelay: 100 });
    },
  };
}
