/** Pieces shared by the route definitions: JSON bodies, the error responses, the security requirement. */
import { z } from "@hono/zod-openapi";
import { ErrorEnvelope, type ErrorStatus } from "./errors.js";

const ERROR_TEXT: Record<ErrorStatus, string> = {
  400: "Bad input: the message and `issues` say what is wrong.",
  401: "Missing or unknown bearer token.",
  403: "The token's role may not call this route (FORBIDDEN), or four eyes (FOUR_EYES).",
  404: "No such resource.",
  405: "Method not allowed.",
  409: "The order's status does not allow this change.",
  413: "Request body too large.",
  415: "The body must be application/json.",
  422: "A block jurisdiction lies outside the authority's jurisdiction.",
  429: "Too many failed attempts from this client or principal; `Retry-After` says when to try again.",
  500: "A fault in Cordon; the requestId finds it in the logs.",
  503: "Not ready, or the decision log cannot be written.",
};

export function errors(...statuses: ErrorStatus[]) {
  return Object.fromEntries(
    statuses.map((s) => [
      s,
      { description: ERROR_TEXT[s], content: { "application/json": { schema: ErrorEnvelope } } },
    ]),
  ) as Record<
    ErrorStatus,
    { description: string; content: { "application/json": { schema: typeof ErrorEnvelope } } }
  >;
}

export function jsonBody<T extends z.ZodType>(schema: T, description: string, required = true) {
  return { required, description, content: { "application/json": { schema } } };
}

export function json<T extends z.ZodType>(schema: T, description: string) {
  return { description, content: { "application/json": { schema } } };
}

export const bearer = [{ bearerAuth: [] }];

export { z };

/** The groups operations are tagged with, in the order the reference shows them. */
const TAGS = [
  {
    name: "meeting-join",
    description:
      "The meeting-join flow: may this participant join, re-check the people in a meeting, follow blocks taking effect and lifting.",
  },
  {
    name: "response-team",
    description:
      "Access-denial orders from intake to four-eyes approval, amendment and withdrawal, and the ruleset they compile into.",
  },
  {
    name: "reporting",
    description:
      "The transparency report per period, its finalization and signed manifest, the decision log and the audit log.",
  },
  { name: "administration", description: "Backfill of historical orders." },
  { name: "operations", description: "Liveness and readiness for probes and operators." },
];

/**
 * The document's own fields beside the operations (`app.doc31`). The server is relative: the document
 * is served by the instance it describes, on Node or in the Worker, at whatever address that has.
 */
export function documentFields(version: string, description: string) {
  return {
    openapi: "3.1.0",
    info: {
      title: "Cordon",
      version,
      description,
      // package.json: UNLICENSED. No URL or SPDX identifier to give (.redocly.lint-ignore.yaml).
      license: { name: "Proprietary (UNLICENSED): no licence is granted" },
    },
    servers: [{ url: "/", description: "The Cordon instance serving this document." }],
    tags: TAGS,
  };
}
