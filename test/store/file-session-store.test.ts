/**
 * Embedded mode's console sessions in the data directory (`store/file/session-store.ts`): what one
 * process writes, the next one reads back (a restart signs no one out), keyed by the SHA-256 of the
 * session id and never the id, readable by the owner alone; expired sessions and a damaged file are
 * not brought back.
 */
import { mkdtempSync, statSync } from "node:fs";
import { readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { FileSessionStore, sessionIdHash } from "../../src/store/file/session-store.js";
import { IDLE_MS, MAX_AGE_MS } from "../../src/store/sessions.js";

const fileIn = () => join(mkdtempSync(join(tmpdir(), "cordon-sessions-")), "sessions.json");
const alice = { name: "oidc:idp.example#alice", role: "approver" } as const;

describe("console sessions in the data directory", () => {
  it("are there after a restart, with their role, label, language and CSRF token", async () => {
    const path = fileIn();
    let now = 1_000_000;
    const first = await FileSessionStore.open(path, { clock: () => now });
    const s = await first.create(alice, "nl", { via: "oidc", label: "alice@example.org" });
    await first.close();

    now += 60_000;
    const second = await FileSessionStore.open(path, { clock: () => now });
    expect(await second.get(s.id)).toMatchObject({
      principal: alice,
      lang: "nl",
      csrf: s.csrf,
      via: "oidc",
      label: "alice@example.org",
      hardExpires: s.hardExpires,
    });
    await second.destroy(s.id);
    await second.close();
    const third = await FileSessionStore.open(path, { clock: () => now });
    expect(await third.get(s.id)).toBeUndefined();
  });

  it("keeps the SHA-256 of the id, never the id, in a file only its owner reads", async () => {
    const path = fileIn();
    const store = await FileSessionStore.open(path, { clock: () => 0 });
    const s = await store.create(alice, "en");
    await store.close();
    const text = await readFile(path, "utf8");
    expect(text).not.toContain(s.id);
    expect(text).toContain(sessionIdHash(s.id));
    expect(statSync(path).mode & 0o777).toBe(0o600);
  });

  it("writes a use at close, so the idle timeout runs from the last use across a restart", async () => {
    const path = fileIn();
    let now = 0;
    const first = await FileSessionStore.open(path, { clock: () => now });
    const s = await first.create(alice, "en");
    now = IDLE_MS - 1;
    expect(await first.get(s.id)).toBeDefined();
    await first.close();
    now = IDLE_MS + 10;
    const second = await FileSessionStore.open(path, { clock: () => now });
    expect(await second.get(s.id)).toBeDefined();
  });

  it("does not bring back a session past its idle or absolute timeout", async () => {
    const path = fileIn();
    let now = 0;
    const first = await FileSessionStore.open(path, { clock: () => now });
    const idle = await first.create(alice, "en");
    await first.close();
    now = IDLE_MS;
    expect(await (await FileSessionStore.open(path, { clock: () => now })).get(idle.id)).toBeUndefined();

    const path2 = fileIn();
    now = 0;
    const a = await FileSessionStore.open(path2, { clock: () => now });
    const used = await a.create(alice, "en");
    for (let t = IDLE_MS / 2; t < MAX_AGE_MS; t += IDLE_MS / 2) {
      now = t;
      expect(await a.get(used.id)).toBeDefined();
    }
    await a.close();
    now = MAX_AGE_MS;
    expect(await (await FileSessionStore.open(path2, { clock: () => now })).get(used.id)).toBeUndefined();
  });

  it("starts empty, and serves on, from a damaged file or one with a forged entry", async () => {
    const path = fileIn();
    await writeFile(path, "{not json");
    const store = await FileSessionStore.open(path, { clock: () => 0 });
    expect(store.size).toBe(0);
    const s = await store.create(alice, "en");
    expect(await store.get(s.id)).toBeDefined();
    await store.close();

    const forged = fileIn();
    await writeFile(
      forged,
      JSON.stringify({
        format: 1,
        sessions: {
          [sessionIdHash("x")]: { name: "mallory", role: "root", lang: "en", csrf: "c", seen: 0, hard: 9e15 },
        },
      }),
    );
    const other = await FileSessionStore.open(forged, { clock: () => 0 });
    expect(await other.get("x")).toBeUndefined();
  });
});
