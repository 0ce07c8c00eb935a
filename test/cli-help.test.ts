/**
 * `--help` on every command: `cordon --help`, `cordon COMMAND --help` (and `-h`, `cordon help COMMAND`)
 * and `npm run report -- --help` print usage and exit 0; an option that does not exist is one line and
 * exit 2, for `cordon` as for the report.
 */
import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { run } from "../src/cli/main.js";
import { main as report } from "../src/cli/report.js";
import { ROOT } from "./support/server.js";

const COMMANDS = [
  "verify-audit",
  "ruleset",
  "hash-token",
  "import",
  "keygen",
  "publish",
  "verify-report",
  "edge-replay",
  "restore",
];

async function cordon(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = "";
  let err = "";
  const code = await run(
    args,
    (s) => {
      out += s;
    },
    {},
    (s) => {
      err += s;
    },
  );
  return { code, out, err };
}

describe("cordon --help", () => {
  it.each([["--help"], ["-h"], ["help"]])("%s prints every command and exits 0", async (flag) => {
    const { code, out, err } = await cordon(flag);
    expect(code).toBe(0);
    expect(err).toBe("");
    for (const command of COMMANDS) expect(out).toContain(`cordon ${command}`);
  });

  it.each(COMMANDS)("cordon %s --help prints its usage and exits 0", async (command) => {
    for (const args of [
      [command, "--help"],
      [command, "-h"],
      ["help", command],
    ]) {
      const { code, out } = await cordon(...args);
      expect(code, args.join(" ")).toBe(0);
      expect(out).toMatch(new RegExp(`^usage: cordon ${command}\\b`));
    }
  });

  it("refuses an unknown option in one line, exit 2, also one of another command", async () => {
    expect(await cordon("ruleset", "--bogus")).toEqual({
      code: 2,
      out: "",
      err: "cordon: unknown option --bogus (cordon --help lists the commands and their options)\n",
    });
    expect(await cordon("keygen", "--redis", "redis://127.0.0.1:1")).toEqual({
      code: 2,
      out: "",
      err: "cordon keygen: unknown option --redis (cordon keygen --help lists its options)\n",
    });
    expect((await cordon("frobnicate")).code).toBe(2);
  });

  it("takes the period as --period or alone, in verify-report as in the report", async () => {
    const alone = await cordon("verify-report", "--data-dir", "/nonexistent", "2026-H9");
    const flagged = await cordon("verify-report", "--data-dir", "/nonexistent", "--period", "2026-H9");
    expect(alone.code).toBe(2);
    expect(flagged).toEqual(alone);
    expect(alone.err).toContain("not a period: 2026-H9");
  });
});

describe("npm run report -- --help", () => {
  it("prints the usage and exits 0", async () => {
    let out = "";
    const code = await report(["--help"], {
      out: (s) => {
        out += s;
      },
      err: () => undefined,
    });
    expect(code).toBe(0);
    expect(out).toMatch(/^usage: npm run report/);
  });

  it("does so as a real process, as does the cordon binary's source", () => {
    for (const [script, usage] of [
      ["report", /^usage: npm run report/],
      ["cli", /^usage: cordon COMMAND/],
    ] as const) {
      const result = spawnSync("npm", ["run", "--silent", script, "--", "--help"], {
        cwd: ROOT,
        encoding: "utf8",
        timeout: 60_000,
      });
      expect(result.status, result.stderr).toBe(0);
      expect(result.stdout).toMatch(usage);
    }
  }, 90_000);
});
