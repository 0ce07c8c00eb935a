/**
 * Starts the real Node entry as a child process (through tsx, no build needed) on a free port, and
 * waits for it to listen. For durability tests that `kill -9` it and for the README's promises.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { fileURLToPath } from "node:url";
import { requestInit } from "./requests.js";

export const ROOT = fileURLToPath(new URL("../../", import.meta.url));

export const TOKENS = {
  checker: "checker-1:checker:sys-test-checker-secret-000001",
  responder: "responder-1:responder:sys-test-responder-secret-0001",
  approver: "approver-1:approver:sys-test-approver-secret-00001",
  auditor: "auditor-1:auditor:sys-test-auditor-secret-000001",
} as const;
export const secret = (who: keyof typeof TOKENS) => TOKENS[who].split(":")[2] as string;
/** Fetch options that send `who`'s token (for GET routes such as /readyz's details). */
export const withToken = (who: keyof typeof TOKENS): RequestInit => ({
  headers: { authorization: `Bearer ${secret(who)}` },
});

export interface ServerProcess {
  child: ChildProcess;
  port: number;
  url: string;
  stdout: string[];
  stderr: string[];
  /** Sends `signal` and waits for the process to exit. */
  stop(signal?: NodeJS.Signals): Promise<void>;
}

export async function startServer(
  env: Record<string, string>,
  opts: { timeoutMs?: number } = {},
): Promise<ServerProcess> {
  const child = spawn(process.execPath, ["--import", "tsx", "src/entry/node.ts"], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? "", PORT: "0", HOST: "127.0.0.1", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const stdout: string[] = [];
  const stderr: string[] = [];
  child.stdout?.setEncoding("utf8").on("data", (d: string) => stdout.push(d));
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`server did not start:\n${stderr.join("")}`)),
      opts.timeoutMs ?? 20_000,
    );
    child.stderr?.setEncoding("utf8").on("data", (d: string) => {
      stderr.push(d);
      const match = /"message":"cordon listening","port":(\d+)/.exec(stderr.join(""));
      if (match) {
        clearTimeout(timer);
        resolve(Number(match[1]));
      }
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code}:\n${stderr.join("")}`));
    });
  });
  return {
    child,
    port,
    url: `http://127.0.0.1:${port}`,
    stdout,
    stderr,
    async stop(signal = "SIGTERM") {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = once(child, "exit");
      child.kill(signal);
      await exited;
    },
  };
}

export async function api(
  server: { url: string },
  method: string,
  path: string,
  who: keyof typeof TOKENS,
  body?: unknown,
): Promise<{ status: number; body: any }> {
  let res: Response;
  try {
    res = await fetch(server.url + path, requestInit(method, secret(who), { body }));
  } catch (err) {
    // A GET on a kept-alive connection the server closed as idle (its keepAliveTimeout ran out while the
    // test was busy elsewhere, e.g. in synchronous redis-cli calls on a loaded machine) fails before it
    // is sent: asked again, on a new connection. Anything else, and every other method, fails the test.
    const socketClosed = (err as { cause?: { code?: string } }).cause?.code === "UND_ERR_SOCKET";
    if (method !== "GET" || !socketClosed) throw err;
    res = await fetch(server.url + path, requestInit(method, secret(who), { body }));
  }
  return { status: res.status, body: await res.json() };
}
