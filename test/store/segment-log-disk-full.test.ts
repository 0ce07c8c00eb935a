/**
 * The decision log on a full file system (issue 12): a real `SegmentLog` on a 1 MiB tmpfs. Writes that
 * fail leave no partial line and are never acknowledged; the log is not ready meanwhile, heals by itself
 * once space returns, and holds every acknowledged record exactly once. Needs root (mount -t tmpfs):
 * skipped, saying so, where mounting is not permitted.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { open, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { SegmentLog } from "../../src/store/file/segment-log.js";
import { decisionRecord } from "../support/fixtures.js";
import { waitFor } from "../support/wait.js";

const root = mkdtempSync(join(tmpdir(), "cordon-log-full-"));
const mnt = join(root, "fs");
const cannotMount = (() => {
  spawnSync("mkdir", ["-p", mnt]);
  const r = spawnSync("mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", mnt], { encoding: "utf8" });
  return r.status === 0 ? null : `cannot mount a tmpfs here (${(r.stderr || r.error?.message || "").trim()})`;
})();
if (cannotMount) console.warn(`segment-log-disk-full skipped: ${cannotMount}; it needs root`);

afterAll(() => {
  if (!cannotMount) spawnSync("umount", [mnt]);
  rmSync(root, { recursive: true, force: true });
});

describe("SegmentLog on a full file system", () => {
  it.skipIf(cannotMount !== null)("refuses, cuts back, is not ready, then heals by itself", async () => {
    const log = await SegmentLog.open(join(mnt, "data"), { fsync: "batch", probeIntervalMs: 20 });
    try {
      const acked: string[] = [];
      // Big records, so a write runs out of room part-way through.
      const append = async (i: number) => {
        const r = decisionRecord({ decisionId: `d-${i}`, meetingId: `m-${i}-${"x".repeat(3000)}` });
        await log.append([r]);
        acked.push(r.decisionId);
      };
      const filler = await open(join(mnt, "filler"), "w");
      await filler.write(Buffer.alloc(900 * 1024));
      await filler.close();
      let refused = 0;
      for (let i = 0; i < 200 && refused < 3; i++) await append(i).catch(() => refused++);
      expect(refused).toBe(3);
      expect(log.readiness()).toMatchObject({ name: "decision-log", ready: false });
      // Nothing unacknowledged on disk: exactly the acknowledged lines, the last one whole.
      const segment = join(mnt, "data", "decisions", "000001.jsonl");
      const onDisk = () => readFile(segment, "utf8").then((t) => t.split("\n").filter((l) => l !== ""));
      expect((await readFile(segment, "utf8")).endsWith("\n")).toBe(true);
      expect((await onDisk()).map((l) => JSON.parse(l).decisionId)).toEqual(acked);

      await rm(join(mnt, "filler"));
      await waitFor(() => log.readiness().ready, "the log to heal once space returned", 3000);
      for (let i = 1000; i < 1005; i++) await append(i);
      const page = await log.page({ limit: 10_000 });
      expect(page.records.map((r) => r.decisionId)).toEqual(acked);
      expect((await onDisk()).map((l) => JSON.parse(l).decisionId)).toEqual(acked);
    } finally {
      await log.close();
    }
  });
});
