/**
 * One error type for the whole of Cordon: `CordonError`, with a code from `ErrorCode`. The engine,
 * the stores and the services throw it (or one of its named kinds below); each transport maps the
 * code once: the API to its envelope and status (`http/errors.ts`), the console to a page.
 */
import { z } from "zod";

export const ErrorCode = z
  .enum([
    "BAD_REQUEST",
    "UNAUTHORIZED",
    "FORBIDDEN",
    "FOUR_EYES",
    "NOT_FOUND",
    "METHOD_NOT_ALLOWED",
    "ILLEGAL_TRANSITION",
    "PAYLOAD_TOO_LARGE",
    "UNSUPPORTED_MEDIA_TYPE",
    "RATE_LIMITED",
    "JURISDICTION_OUTSIDE_AUTHORITY",
    // I1 by the reviewed jurisdiction table: a territory with its own legal order, claimed by its state;
    // a block no location source can report.
    "SEPARATE_LEGAL_ORDER",
    "UNLOCATABLE_JURISDICTION",
    // Reports (I9): a period that has not begun has no report; one is finalized only after its end
    // plus the grace days.
    "PERIOD_NOT_STARTED",
    "FINALIZE_TOO_EARLY",
    "INTERNAL",
    "UNAVAILABLE",
  ])
  .meta({ id: "ErrorCode" });
export type ErrorCode = z.infer<typeof ErrorCode>;

/** One thing wrong with an input: a dotted path and a message. */
export const Issue = z.object({ path: z.string(), message: z.string() }).meta({ id: "Issue" });
export type Issue = z.infer<typeof Issue>;

export class CordonError extends Error {
  override readonly name: string = "CordonError";
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly issues?: Issue[],
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** No such order (or other resource). */
export class NotFoundError extends CordonError {
  override readonly name = "NotFoundError";
  constructor(message: string, options?: ErrorOptions) {
    super("NOT_FOUND", message, undefined, options);
  }
}

/** The store (Redis, say) cannot be reached or written: try again later. */
export class StoreUnavailableError extends CordonError {
  override readonly name: string = "StoreUnavailableError";
  /** When the store knows it is passing (still loading, say): whole seconds to wait (`Retry-After`). */
  readonly retryAfterSeconds: number | undefined;
  constructor(message: string, options?: ErrorOptions & { retryAfterSeconds?: number }) {
    super("UNAVAILABLE", message, undefined, options);
    this.retryAfterSeconds = options?.retryAfterSeconds;
  }
}

/**
 * The order history in the store is not the one this instance knew: Redis came back emptied, or holds
 * another history than this instance's audit mirror. Order changes (and reads, which would show the
 * wrong history) are refused until an operator restores it, so a new history is never written over the
 * lost one. `message` is safe to show; `reason` (what differs, where) is for the operators' log.
 */
export class HistoryLostError extends StoreUnavailableError {
  override readonly name = "HistoryLostError";
  constructor(readonly reason: string) {
    super(
      "the order history in Redis is gone or differs from this instance's audit mirror; order changes are " +
        "refused until an operator restores it with `cordon restore` (see the README, Running on Redis)",
    );
  }
}

/** A paging cursor this log did not hand out (or one into data since removed). */
export class InvalidCursorError extends CordonError {
  override readonly name = "InvalidCursorError";
  constructor(message: string, options?: ErrorOptions) {
    super("BAD_REQUEST", message, undefined, options);
  }
}

/** Too many failed attempts (authentication, sign-in) from one client or principal: wait and retry. */
export class RateLimitedError extends CordonError {
  override readonly name = "RateLimitedError";
  constructor(
    /** Whole seconds until another attempt is counted again (`Retry-After`). */
    readonly retryAfterSeconds: number,
    message = `too many failed attempts; try again in ${retryAfterSeconds} s`,
  ) {
    super("RATE_LIMITED", message);
  }
}
