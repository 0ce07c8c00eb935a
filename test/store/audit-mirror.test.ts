/**
 * The audit mirror on disk: it appends only entries that follow its head, reads itself back verified,
 * cuts off an append a crash cut short, and reports (never hides) a file that does not verify.
 */
import { appendFile, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Order } from "../../src/engine/index.js";
import { type ChainHead, chainEntry, ZERO_HASH } from "../../src/store/audit.js";
import { AuditMirror, readMirrorFile } from "../../src/store/file/audit-mirror.js";
import { AuditChainError, type AuditEntry } from "../../src/store/interface.js";
import { recordingLogger } from "../support/logs.js";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "cordon-audit-mirror-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

function chain(n: number): AuditEntry[] {
  const entries: AuditEntry[] = [];
  let prev: ChainHead = { seq: 0, hash: ZERO_HASH };
  for (let i = 1; i <= n; i++) {
    const orderId = `o-${Math.ceil(i / 2)}`;
    const entry = chainEntry(prev, {
      at: new Date(Date.UTC(2026, 0, i)).toISOString(),
      actor: i % 2 ? "responder-1" : "approver-1",
      action: i % 2 ? "create" : "approve",
      orderId,
      order: { id: orderId, status: i % 2 ? "pending" : "approved" } as unknown as Order,
    });
    entries.push(entry);
    prev = { seq: entry.seq, hash: entry.hash };
  }
  return entries;
}

describe("the audit mirror", () => {
  it("appends entries that follow its head, skips those it holds, and reads back what it wrote", async () => {
    const entries = chain(5);
    const mirror = await AuditMirror.open(dir, recordingLogger().logger);
    expect(mirror.epoch).toBeUndefined();
    expect(mirror.trusts("any")).toBe(true);
    await mirror.adopt("epoch-1");
    await mirror.append(entries.slice(0, 3));
    await mirror.append(entries.slice(1, 5));
    expect(mirror.head).toEqual({ seq: 5, hash: entries[4]?.hash });
    expect(mirror.trusts("epoch-1")).toBe(true);
    expect(mirror.trusts("epoch-2")).toBe(false);
    const read = await readMirrorFile(mirror.path);
    expect(read).toMatchObject({ epoch: "epoch-1", head: mirror.head });
    expect(read.entries).toEqual(entries);
    await expect(mirror.adopt("epoch-2")).rejects.toBeInstanceOf(AuditChainError);
  });

  it("writes nothing of a batch when one entry does not follow", async () => {
    const entries = chain(4);
    const mirror = await AuditMirror.open(dir, recordingLogger().logger);
    await mirror.adopt("epoch-1");
    await mirror.append(entries.slice(0, 2));
    const forged = { ...(entries[3] as AuditEntry), actor: "someone-else" };
    await expect(mirror.append([entries[2] as AuditEntry, forged])).rejects.toThrow(/seq 4/);
    expect(mirror.head.seq).toBe(2);
    expect((await readMirrorFile(mirror.path)).entries).toHaveLength(2);
  });

  it("cuts off an append that a crash cut short, and keeps the rest", async () => {
    const entries = chain(3);
    const first = await AuditMirror.open(dir, recordingLogger().logger);
    await first.adopt("epoch-1");
    await first.append(entries.slice(0, 2));
    await appendFile(first.path, JSON.stringify(entries[2]).slice(0, 40));
    const { logger, lines } = recordingLogger();
    const again = await AuditMirror.open(dir, logger);
    expect(again.problem).toBeUndefined();
    expect(again.head.seq).toBe(2);
    expect(lines.some((l) => /torn last line/.test(l.message))).toBe(true);
    await again.append(entries.slice(2));
    expect((await readMirrorFile(again.path)).entries).toEqual(entries);
  });

  it("reports a file that does not verify, keeps it, and trusts no epoch", async () => {
    const entries = chain(3);
    const mirror = await AuditMirror.open(dir, recordingLogger().logger);
    await mirror.adopt("epoch-1");
    await mirror.append(entries);
    const text = await readFile(mirror.path, "utf8");
    await writeFile(mirror.path, text.replace('"actor":"approver-1"', '"actor":"responder-1"'));
    await expect(readMirrorFile(mirror.path)).rejects.toMatchObject({ seq: 2 });
    const { logger, lines } = recordingLogger();
    const opened = await AuditMirror.open(dir, logger);
    expect(opened.problem).toMatch(/does not verify/);
    expect(opened.trusts("epoch-1")).toBe(false);
    expect(lines.some((l) => l.level === "error")).toBe(true);
    expect(await readFile(mirror.path, "utf8")).not.toBe(text);
  });
});
