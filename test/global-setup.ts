/** Before any test: the tools the suite needs from the machine, with a clear message when one is missing. */
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";

export default function setup(): void {
  if (!existsSync(process.env.CHROMIUM_PATH ?? "/usr/bin/chromium")) {
    throw new Error(
      "chromium is not installed: the report page tests render in it. Install it (Debian: apt-get install -y chromium) or run bash .ci/run, which does.",
    );
  }
  try {
    execFileSync("redis-server", ["--version"], { stdio: "ignore" });
  } catch {
    throw new Error(
      "redis-server is not on PATH: the Redis tests start their own. Install it (Debian: apt-get install -y redis-server) or run bash .ci/run, which does.",
    );
  }
}
