/**
 * The tokens file of the embedded default (`<dataDir>/tokens.json`, digests only) is held to CORDON_TOKENS'
 * rules (I7): a name given twice in any case, or one digest given twice, stops the start naming the entries.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ConfigError } from "../../src/config/parse.js";
import { loadTokens } from "../../src/runtime/node/secrets.js";
import { digestSecret } from "../../src/service/auth.js";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "cordon-tokens-"));
});
afterEach(() => rm(dir, { recursive: true, force: true }));

const keep = (tokens: unknown) => writeFile(join(dir, "tokens.json"), JSON.stringify(tokens));

describe("loadTokens on the embedded default", () => {
  it("generates one token per role, with unique names and secrets, and reads them back once saved", async () => {
    const first = await loadTokens(dir, undefined);
    expect(first.generated.length).toBeGreaterThan(0);
    // Not kept until the server listens (`save`): a start that fails before keeps nothing.
    const unsaved = await loadTokens(dir, undefined);
    expect(unsaved.generated.length).toBeGreaterThan(0);
    expect(unsaved.tokens).not.toEqual(first.tokens);
    await first.save();
    const again = await loadTokens(dir, undefined);
    expect(again.tokens).toEqual(first.tokens);
    expect(again.generated).toEqual([]);
  });

  it.each([
    [
      "a principal named twice in another case",
      [
        { principal: "Bob", role: "responder", sha256: digestSecret("secret-one-000000") },
        { principal: "bob", role: "approver", sha256: digestSecret("secret-two-000000") },
      ],
      /tokens\.json.*entries 1 and 2 name the same principal \(Bob, bob\)/s,
    ],
    [
      "one digest for two principals",
      [
        { principal: "resp", role: "responder", sha256: digestSecret("shared-secret-000") },
        { principal: "appr", role: "approver", sha256: digestSecret("shared-secret-000") },
      ],
      /tokens\.json.*entries 1 \(resp\) and 2 \(appr\) have the same secret/s,
    ],
    [
      "an entry that is not a token",
      [{ principal: "x", role: "king", sha256: "00" }],
      /tokens\.json.*entry 1/s,
    ],
  ])("refuses a tokens file with %s", async (_name, tokens, message) => {
    await keep(tokens);
    const error = await loadTokens(dir, undefined).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toMatch(message);
    expect((error as Error).message.split("\n").length).toBeLessThanOrEqual(3);
  });
});
