/**
 * The API's side of errors: one envelope for every failure, `{"error": {code, message, requestId,
 * issues?}}`, and `statusOf`, which maps each `ErrorCode` (kernel/errors.ts) to its status
 * exhaustively, so a new code cannot ship without one.
 */
import { z } from "zod";
import { ErrorCode, Issue } from "../kernel/errors.js";

export { ErrorCode, Issue };

export type ErrorStatus = 400 | 401 | 403 | 404 | 405 | 409 | 413 | 415 | 422 | 429 | 500 | 503;

export function statusOf(code: ErrorCode): ErrorStatus {
  switch (code) {
    case "BAD_REQUEST":
    case "PERIOD_NOT_STARTED":
      return 400;
    case "UNAUTHORIZED":
      return 401;
    case "FORBIDDEN":
    case "FOUR_EYES":
      return 403;
    case "NOT_FOUND":
      return 404;
    case "METHOD_NOT_ALLOWED":
      return 405;
    case "ILLEGAL_TRANSITION":
    case "FINALIZE_TOO_EARLY":
      return 409;
    case "PAYLOAD_TOO_LARGE":
      return 413;
    case "UNSUPPORTED_MEDIA_TYPE":
      return 415;
    case "JURISDICTION_OUTSIDE_AUTHORITY":
    case "SEPARATE_LEGAL_ORDER":
    case "UNLOCATABLE_JURISDICTION":
      return 422;
    case "RATE_LIMITED":
      return 429;
    case "INTERNAL":
      return 500;
    case "UNAVAILABLE":
      return 503;
  }
}

export const ErrorEnvelope = z
  .object({
    error: z.object({
      code: ErrorCode,
      message: z.string().meta({ example: "ip: must be an IPv4 or IPv6 address" }),
      requestId: z.string(),
      issues: z.array(Issue).optional(),
    }),
  })
  .meta({ id: "Error" });
export type ErrorEnvelope = z.infer<typeof ErrorEnvelope>;

/** zod issues in the envelope's form: a dotted path and a message. */
export function toIssues(error: z.ZodError): Issue[] {
  return error.issues.map((issue) => ({
    path: issue.path.map(String).join(".") || "(body)",
    message:
      issue.code === "unrecognized_keys" ? `unknown field(s): ${issue.keys.join(", ")}` : issue.message,
  }));
}

/** A message that names what is wrong: the first few issues, path first. */
export function summarise(issues: Issue[]): string {
  const shown = issues.slice(0, 3).map((i) => `${i.path}: ${i.message}`);
  const more = issues.length > 3 ? ` (and ${issues.length - 3} more)` : "";
  return `${shown.join("; ")}${more}`;
}
