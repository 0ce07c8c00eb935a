/**
 * Starts the test OpenID Connect provider (`oidc-provider-main.ts`, a real `oidc-provider`) as a child
 * process on a free port, registered with one confidential client whose redirect URI is the console's
 * callback at `consoleUrl`.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { fileURLToPath } from "node:url";
import { freePort } from "./redis.js";

const MAIN = fileURLToPath(new URL("./oidc-provider-main.ts", import.meta.url));
const ROOT = fileURLToPath(new URL("../../", import.meta.url));

export const OIDC_CLIENT_ID = "cordon-console";
export const OIDC_CLIENT_SECRET = "test-client-secret-0123456789abcdef";

export interface OidcProvider {
  issuer: string;
  child: ChildProcess;
  output: string[];
  stop(): Promise<void>;
}

export async function startOidcProvider(consoleUrl: string): Promise<OidcProvider> {
  const port = await freePort();
  const child = spawn(
    process.execPath,
    ["--import", "tsx", MAIN, String(port), `${consoleUrl}/console/oidc/callback`, OIDC_CLIENT_SECRET],
    { cwd: ROOT, env: { PATH: process.env.PATH ?? "", NODE_ENV: "test" }, stdio: ["ignore", "pipe", "pipe"] },
  );
  const output: string[] = [];
  child.stderr?.setEncoding("utf8").on("data", (d: string) => output.push(d));
  const issuer = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`OIDC provider did not start:\n${output.join("")}`)),
      20_000,
    );
    child.stdout?.setEncoding("utf8").on("data", (d: string) => {
      output.push(d);
      const match = /listening (\S+)/.exec(output.join(""));
      if (match?.[1]) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`OIDC provider exited with ${code}:\n${output.join("")}`));
    });
  });
  return {
    issuer,
    child,
    output,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = once(child, "exit");
      child.kill("SIGTERM");
      await exited;
    },
  };
}
