/** The kernel's shared pieces: one version, one redacting logger on both runtimes, one error type. */
import { readFileSync } from "node:fs";
import { afterEach, describe, expect, it, vi } from "vitest";
import { OrderRuleError } from "../../src/engine/index.js";
import { CordonError, NotFoundError, StoreUnavailableError } from "../../src/kernel/errors.js";
import { createLogger } from "../../src/kernel/logger.js";
import { VERSION } from "../../src/kernel/version.js";
import { workerLogger } from "../../src/platform/cloudflare/logger.js";
import { nodeLogger } from "../../src/platform/node/logger.js";

afterEach(() => vi.restoreAllMocks());

describe("VERSION", () => {
  it("is package.json's version", () => {
    const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8"));
    expect(VERSION).toBe(pkg.version);
  });
});

const SECRET_FIELDS = { token: "cdn_secret", apiKey: "k", password: "p", authorization: "Bearer x" };

describe("the logger", () => {
  it("drops the value of every field named like a secret, and keeps the others", () => {
    const entries: unknown[] = [];
    createLogger("debug", (e) => entries.push(e)).info("hello", { ...SECRET_FIELDS, orderId: "ord_1" });
    expect(entries).toEqual([
      {
        level: "info",
        message: "hello",
        fields: {
          token: "[redacted]",
          apiKey: "[redacted]",
          password: "[redacted]",
          authorization: "[redacted]",
          orderId: "ord_1",
        },
      },
    ]);
  });

  it("passes only entries at or above its level", () => {
    const levels: string[] = [];
    const logger = createLogger("warn", (e) => levels.push(e.level));
    logger.debug("d");
    logger.info("i");
    logger.warn("w");
    logger.error("e");
    expect(levels).toEqual(["warn", "error"]);
  });

  it("redacts on Node (JSON lines on stderr)", () => {
    const lines: string[] = [];
    nodeLogger("info", (line) => lines.push(line)).warn("w", SECRET_FIELDS);
    expect(lines).toHaveLength(1);
    const parsed = JSON.parse(lines[0] as string);
    expect(parsed).toMatchObject({ level: "warn", message: "w", token: "[redacted]", apiKey: "[redacted]" });
    expect(lines[0]).not.toContain("cdn_secret");
  });

  it("redacts in the Worker (JSON lines on the console)", () => {
    const spy = vi.spyOn(console, "error").mockImplementation(() => {});
    workerLogger("info").error("e", SECRET_FIELDS);
    expect(spy).toHaveBeenCalledTimes(1);
    const line = spy.mock.calls[0]?.[0] as string;
    expect(JSON.parse(line)).toMatchObject({ level: "error", message: "e", token: "[redacted]" });
    expect(line).not.toContain("cdn_secret");
  });
});

describe("CordonError", () => {
  it("is the one type the engine, the stores and the services throw, each with its code", () => {
    const errors = [
      new NotFoundError("no order"),
      new StoreUnavailableError("down"),
      new OrderRuleError("FOUR_EYES", "the creator cannot approve"),
    ];
    expect(errors.every((e) => e instanceof CordonError)).toBe(true);
    expect(errors.map((e) => e.code)).toEqual(["NOT_FOUND", "UNAVAILABLE", "FOUR_EYES"]);
  });

  it("names the field when a block lies outside the authority", () => {
    const err = new OrderRuleError("JURISDICTION_OUTSIDE_AUTHORITY", "FR is not inside IN");
    expect(err.issues).toEqual([{ path: "jurisdictions", message: "FR is not inside IN" }]);
  });
});
