/**
 * The console's transport mapping for errors: which status and message a page shows for each
 * `CordonError` code (the API's mapping is `toErrorResponse` in http/app.ts). Exhaustive over
 * `ErrorCode`, so a new code cannot ship without a decision here.
 */
import type { Strings } from "../i18n/console.js";
import type { CordonError } from "../kernel/errors.js";

export interface PageError {
  status: 403 | 404 | 409 | 413 | 422 | 429 | 503;
  message: string;
}

/** What the page says, or undefined for a fault: logged and answered with the generic error page. */
export function pageErrorOf(err: CordonError, t: Strings): PageError | undefined {
  switch (err.code) {
    case "NOT_FOUND":
      return { status: 404, message: t.notFound };
    case "FORBIDDEN":
      return { status: 403, message: t.forbidden };
    case "FOUR_EYES":
      return { status: 403, message: `${t.creatorCannotDecide} (${err.message})` };
    case "ILLEGAL_TRANSITION":
    case "JURISDICTION_OUTSIDE_AUTHORITY":
    case "SEPARATE_LEGAL_ORDER":
    case "UNLOCATABLE_JURISDICTION":
      return { status: err.code === "ILLEGAL_TRANSITION" ? 409 : 422, message: err.message };
    // Any form post over the console's body limit, with or without a session.
    case "PAYLOAD_TOO_LARGE":
      return { status: 413, message: t.tooLarge };
    // Sign-in attempts from a client that failed too often (its Retry-After header says how long).
    case "RATE_LIMITED":
      return { status: 429, message: t.tooManyAttempts };
    // An entry rule that needs the clock (a receivedAt in the future) names its field; the form's own
    // validation cannot judge it. Without a field it is not expected from a page: a fault.
    case "BAD_REQUEST":
      return err.issues?.length ? { status: 422, message: err.message } : undefined;
    // Not expected from a console page (its forms are validated before anything is called, and the
    // session stands in for a token), or a failure of Cordon itself: a fault.
    // The store (Redis, or a data directory that cannot write) is away: say so, nothing was changed.
    case "UNAVAILABLE":
      return { status: 503, message: t.unavailable };
    case "UNAUTHORIZED":
    case "METHOD_NOT_ALLOWED":
    case "UNSUPPORTED_MEDIA_TYPE":
    case "INTERNAL":
      return undefined;
  }
}
