/** Before any test: the one tool the suite needs from the machine, with a clear message when it is missing. */
import { execFileSync } from "node:child_process";

export default function setup(): void {
  try {
    execFileSync("redis-server", ["--version"], { stdio: "ignore" });
  } catch {
    throw new Error(
      "redis-server is not on PATH: the Redis tests start their own. Install it (Debian: apt-get install -y redis-server) or run bash .ci/run, which does.",
    );
  }
}
