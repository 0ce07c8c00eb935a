/**
 * The per-period IP-hash key store contract (I6), for the embedded files, one redis-server and a Redis
 * Cluster: a key is made once and agreed by every instance, and a destroyed key is gone and never made
 * again. Run by ip-hash-keys.test.ts and cluster-stores.test.ts.
 */
import { afterEach, describe, expect, it } from "vitest";
import { type IpHashKeyStore, PeriodKeyDestroyedError } from "../../src/store/ip-hash-keys.js";

export interface Target {
  /** A store as another instance (process) would open it on the same data directory or Redis. */
  instance(): Promise<IpHashKeyStore>;
  /** Where the key is kept: the file or Redis key exists. */
  holds(period: string): Promise<boolean>;
}

export type MakeTarget = () => Promise<{ target: Target; close(): Promise<void> }>;

/** What every IP-hash key store does; `make` gives a fresh place for keys, each test its own. */
export function describeIpHashKeyStoreContract(name: string, make: MakeTarget): void {
  describe(`the IP-hash key store on ${name}`, () => {
    let made: Awaited<ReturnType<typeof make>>;
    afterEach(() => made?.close());

    it("makes one 32-byte key per half-year and hands the same one back", async () => {
      made = await make();
      const store = await made.target.instance();
      const first = await store.obtain("2026-H1");
      expect(first.created).toBe(true);
      expect(first.key).toHaveLength(32);
      const again = await store.obtain("2026-H1");
      expect(again).toEqual({ key: first.key, created: false });
      const other = await store.obtain("2026-H2");
      expect(Buffer.from(other.key).equals(Buffer.from(first.key))).toBe(false);
    });

    it("gives two instances racing for a new period the same key", async () => {
      made = await make();
      const [a, b] = [await made.target.instance(), await made.target.instance()];
      for (const period of ["2026-H1", "2026-H2", "2027-H1"]) {
        const got = await Promise.all([
          a.obtain(period),
          b.obtain(period),
          a.obtain(period),
          b.obtain(period),
        ]);
        expect(got.filter((g) => g.created)).toHaveLength(1);
        for (const g of got)
          expect(Buffer.from(g.key).toString("hex")).toBe(Buffer.from(got[0]?.key ?? []).toString("hex"));
      }
    });

    it("destroys a key for good: gone from the store, and never made again by any instance", async () => {
      made = await make();
      const [a, b] = [await made.target.instance(), await made.target.instance()];
      await a.obtain("2026-H1");
      await a.obtain("2026-H2");
      expect(await made.target.holds("2026-H1")).toBe(true);
      await b.destroy("2026-H1");
      expect(await made.target.holds("2026-H1")).toBe(false);
      await expect(a.obtain("2026-H1")).rejects.toBeInstanceOf(PeriodKeyDestroyedError);
      await expect(b.obtain("2026-H1", new Uint8Array(32))).rejects.toBeInstanceOf(PeriodKeyDestroyedError);
      await expect((await made.target.instance()).obtain("2026-H1")).rejects.toBeInstanceOf(
        PeriodKeyDestroyedError,
      );
      expect(await made.target.holds("2026-H1")).toBe(false);
      await b.destroy("2026-H1");
      expect((await a.obtain("2026-H2")).created).toBe(false);
    });

    it("refuses a period that is not a half-year", async () => {
      made = await make();
      const store = await made.target.instance();
      for (const period of ["2026-07", "2026-Q3", "../2026-H1", "2026-h1"]) {
        await expect(store.obtain(period)).rejects.toThrow(/half-year/);
        await expect(store.destroy(period)).rejects.toThrow(/half-year/);
      }
    });
  });
}
