/**
 * I6: the per-period IP-hash keys. A decision record's `ipHash` is sealed under its half-year's key
 * (`HMAC(periodKey, HMAC(CORDON_IP_HASH_KEY, address))`); the key is created when first needed, agreed
 * by every instance, and destroyed when the half-year is finalized, so the records can no longer be
 * linked to an address. Embedded: `store/file/ip-hash-keys.ts`; Redis: `store/redis/ip-hash-keys.ts`.
 */

/** A half-year label (`2026-H2`): the only periods with keys (months and quarters share their half's). */
export const KEY_PERIOD = /^\d{4}-H[12]$/;

/** 32 random bytes: the HMAC-SHA-256 key of one half-year. */
export const PERIOD_KEY_BYTES = 32;

/**
 * How long after its half-year ends a period's key is still needed: ingest seals edge records up to 14
 * days late (DESIGN "Ingest"), plus an hour for clocks that disagree. Past it, instances let the key go
 * from memory (and from their local mirror); the stored key stays until the period is finalized.
 */
export const LATE_SEAL_MS = 14 * 24 * 3_600_000 + 3_600_000;

export interface ObtainedKey {
  key: Uint8Array;
  /** This call stored it: the store had no key for the period. */
  created: boolean;
}

export interface IpHashKeyStore {
  /**
   * The period's key; when the store has none, stores `candidate` (or fresh random bytes) so that every
   * caller, in any process, gets the same key back. Rejects with `PeriodKeyDestroyedError` once the
   * period's key was destroyed: a destroyed key is never created again.
   */
  obtain(period: string, candidate?: Uint8Array): Promise<ObtainedKey>;
  /**
   * Removes the period's key for good and remembers that it did (a tombstone), so no later `obtain`
   * re-creates it. Idempotent.
   */
  destroy(period: string): Promise<void>;
}

/** The period's key was destroyed (its half-year is finalized): nothing may be sealed under it again. */
export class PeriodKeyDestroyedError extends Error {
  override readonly name = "PeriodKeyDestroyedError";
  constructor(readonly period: string) {
    super(`the IP-hash key of ${period} was destroyed when the period was finalized`);
  }
}

/** Throws unless `period` is a half-year label: a typo must not create or destroy a stray key. */
export function assertKeyPeriod(period: string): void {
  if (!KEY_PERIOD.test(period)) throw new RangeError(`not a half-year period: ${JSON.stringify(period)}`);
}
