/**
 * Request-level guards: bearer authentication with roles, JSON-only bodies (JSON Lines where named), body
 * size limits.
 */
import type { MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import { CordonError } from "../kernel/errors.js";
import { ACCESS, type Access, mayAccess, type Principal } from "../kernel/roles.js";
import type { Authenticator } from "../service/auth.js";
import type { AppEnv } from "./services.js";

const BEARER = /^Bearer[ \t]+(\S+)[ \t]*$/i;

/** The secret of an `Authorization: Bearer <secret>` header, or undefined. */
export const bearerSecret = (header: string | undefined): string | undefined =>
  header ? BEARER.exec(header)?.[1] : undefined;

/**
 * A refused bearer token: 401 (`principal` unknown) or 403 (a valid principal, the wrong role). The
 * app's error handler logs and counts it (`AuthFailures`), so only the failing path pays for that.
 */
export class AuthFailure extends CordonError {
  override readonly name = "AuthFailure";
  constructor(
    code: "UNAUTHORIZED" | "FORBIDDEN",
    message: string,
    readonly principal?: Principal,
  ) {
    super(code, message);
  }
}

/** 401 without a known token, 403 when the token's role may not call the route. */
export function requireRole(auth: Authenticator, access: Access): MiddlewareHandler<AppEnv> {
  const allowed = ACCESS[access];
  return async (c, next) => {
    const secret = bearerSecret(c.req.header("authorization"));
    if (!secret) throw new AuthFailure("UNAUTHORIZED", "send Authorization: Bearer <token>");
    const principal = auth.authenticate(secret);
    if (!principal) throw new AuthFailure("UNAUTHORIZED", "unknown bearer token");
    if (!mayAccess(principal, access)) {
      throw new AuthFailure(
        "FORBIDDEN",
        `role ${principal.role} may not call this route (allowed: ${allowed.join(", ")})`,
        principal,
      );
    }
    c.set("principal", principal);
    await next();
  };
}

const JSON_TYPE = /^application\/([\w.-]+\+)?json\s*(;|$)/i;
const NDJSON_TYPE = /^application\/x-ndjson\s*(;|$)/i;

/**
 * A POST with a body must say it is JSON. Without this, a body sent as form data would be validated as
 * `{}` and answered with a misleading "field missing"; this answers what is actually wrong. The paths in
 * `ndjsonPaths` take JSON Lines (`application/x-ndjson`) instead, and only that.
 */
export function requireJson(ndjsonPaths: readonly string[] = []): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    if (c.req.method === "POST") {
      const ndjson = ndjsonPaths.includes(c.req.path);
      const type = c.req.header("content-type");
      const length = c.req.header("content-length");
      const hasBody =
        (length !== undefined && length !== "0") || c.req.header("transfer-encoding") !== undefined;
      if (type ? !(ndjson ? NDJSON_TYPE : JSON_TYPE).test(type) : hasBody || ndjson) {
        throw new CordonError(
          "UNSUPPORTED_MEDIA_TYPE",
          ndjson
            ? "the body must be JSON Lines: send Content-Type: application/x-ndjson"
            : "the body must be JSON: send Content-Type: application/json",
        );
      }
    }
    await next();
  };
}

/**
 * 413 above `maxBytes`. A request that states its Content-Length is judged by the header alone: the
 * HTTP parser will not deliver more bytes than stated, so nothing needs counting. Only a chunked body
 * (no length) goes through Hono's streaming `bodyLimit`, which counts while reading. The split matters:
 * on @hono/node-server the streaming check forces a web `Request` with a body stream for every call,
 * which measured as more than half the CPU of a check (bench/README.md).
 */
export function limitBody(maxBytes: number): MiddlewareHandler<AppEnv> {
  const tooLarge = () => new CordonError("PAYLOAD_TOO_LARGE", `the body is larger than ${maxBytes} bytes`);
  const streaming = bodyLimit({
    maxSize: maxBytes,
    onError: () => {
      throw tooLarge();
    },
  });
  return async (c, next) => {
    const length = c.req.header("content-length");
    // No length: chunked, or a Request built in-process (tests, a Worker's internal calls).
    if (length === undefined) return streaming(c, next);
    const bytes = Number(length);
    if (!Number.isSafeInteger(bytes) || bytes < 0)
      throw new CordonError("BAD_REQUEST", "invalid Content-Length header");
    if (bytes > maxBytes) throw tooLarge();
    await next();
  };
}

export const KiB = 1024;
