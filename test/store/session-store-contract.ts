/**
 * One set of expectations for every console session store: the in-memory one (embedded mode) and the
 * Redis one (REDIS_URL: one redis-server, or a Redis Cluster). Timeouts on a clock the test sets; the
 * per-principal cap counts names case-insensitively (`principalKey`), goes by creation order and never
 * touches another principal's sessions; an OIDC session keeps its kind and label. Run by session-store-contract.test.ts and cluster-stores.test.ts.
 */
import { describe, expect, it } from "vitest";
import { IDLE_MS, MAX_AGE_MS } from "../../src/console/session.js";
import type { Language } from "../../src/i18n/language.js";
import type { SessionStore, SessionTimeouts } from "../../src/store/sessions.js";

export type Make = (clock: () => number, opts?: SessionTimeouts) => SessionStore<Language>;

const responder = { name: "responder", role: "responder" } as const;

/** What every console session store does; `make` builds one on the clock it is given. */
export function describeSessionStoreContract(name: string, make: Make): void {
  describe(`console sessions ${name}`, () => {
    it("gives back who signed in, the CSRF token and the language, under a fresh random id", async () => {
      const store = make(() => 0);
      const a = await store.create(responder, "nl");
      const b = await store.create(responder, "en");
      expect(a.id).not.toBe(b.id);
      expect(a.csrf).not.toBe(b.csrf);
      expect(Buffer.from(a.id, "base64url").length).toBeGreaterThanOrEqual(16);
      expect(await store.get(a.id)).toMatchObject({
        id: a.id,
        principal: responder,
        csrf: a.csrf,
        lang: "nl",
      });
      expect(await store.get("not-a-session")).toBeUndefined();
      expect(await store.get(undefined)).toBeUndefined();
    });

    it("keeps a language picked later", async () => {
      const store = make(() => 0);
      const s = await store.create(responder, "en");
      await store.setLanguage(s, "nl");
      expect((await store.get(s.id))?.lang).toBe("nl");
    });

    it("keeps how an OIDC session signed in and the label its pages show; a token session has neither", async () => {
      const store = make(() => 0);
      const oidc = { name: "oidc:idp.example.org#f81d4fae", role: "approver" } as const;
      const s = await store.create(oidc, "en", { via: "oidc", label: "anton@example.org" });
      expect(s).toMatchObject({ via: "oidc", label: "anton@example.org" });
      expect(await store.get(s.id)).toMatchObject({
        principal: oidc,
        via: "oidc",
        label: "anton@example.org",
      });
      const t = await store.create(responder, "en");
      const got = await store.get(t.id);
      expect(got?.via).toBeUndefined();
      expect(got?.label).toBeUndefined();
    });

    it("ends a session on sign-out", async () => {
      const store = make(() => 0);
      const s = await store.create(responder, "en");
      await store.destroy(s.id);
      expect(await store.get(s.id)).toBeUndefined();
      await store.destroy(s.id);
      await store.destroy(undefined);
    });

    it("ends a session unused for the idle timeout; each use pushes it forward", async () => {
      let now = 1_000;
      const store = make(() => now);
      const s = await store.create(responder, "en");
      now += IDLE_MS - 1;
      expect(await store.get(s.id)).toBeDefined();
      now += IDLE_MS - 1;
      expect(await store.get(s.id)).toBeDefined();
      now += IDLE_MS;
      expect(await store.get(s.id)).toBeUndefined();
      // Ended for good: going back in time does not bring it back.
      now -= IDLE_MS;
      expect(await store.get(s.id)).toBeUndefined();
    });

    it("ends a session at the absolute timeout however often it is used", async () => {
      let now = 1_000;
      const store = make(() => now);
      const s = await store.create(responder, "en");
      while (now + IDLE_MS / 2 < 1_000 + MAX_AGE_MS) {
        now += IDLE_MS / 2;
        expect(await store.get(s.id)).toBeDefined();
      }
      now = 1_000 + MAX_AGE_MS;
      expect(await store.get(s.id)).toBeUndefined();
    });

    it("takes shorter timeouts from its options", async () => {
      let now = 0;
      const store = make(() => now, { idleMs: 100, maxAgeMs: 250 });
      const s = await store.create(responder, "en");
      now = 99;
      expect(await store.get(s.id)).toBeDefined();
      now = 198;
      expect(await store.get(s.id)).toBeDefined();
      now = 250;
      expect(await store.get(s.id)).toBeUndefined();
    });

    it("ends only the oldest session of a principal over its cap, names compared case-insensitively", async () => {
      const store = make(() => 0, { perPrincipal: 3 });
      const other = await store.create({ name: "approver", role: "approver" }, "en");
      const mine = [];
      for (const name of ["Bob", "bob", "BOB", "ｂｏｂ", "Bob"]) {
        mine.push(await store.create({ name, role: "responder" }, "en"));
      }
      // A fixed clock: the creation order decides which go.
      const live = [];
      for (const s of mine) live.push((await store.get(s.id)) !== undefined);
      expect(live).toEqual([false, false, true, true, true]);
      expect((await store.get(other.id))?.principal.name).toBe("approver");
    });

    it("counts an expired session out of the cap before ending a live one", async () => {
      let now = 0;
      const store = make(() => now, { perPrincipal: 2, idleMs: 100 });
      const stale = await store.create(responder, "en");
      now = 50;
      const kept = await store.create(responder, "en");
      now = 120;
      expect(await store.get(kept.id)).toBeDefined();
      await store.create(responder, "en");
      expect(await store.get(kept.id)).toBeDefined();
      expect(await store.get(stale.id)).toBeUndefined();
    });
  });
}
