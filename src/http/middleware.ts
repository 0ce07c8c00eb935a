/** Request-level guards: bearer authentication with roles, JSON-only bodies, body size limits. */
import type { MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import { ACCESS, type Access, type Authenticator } from "./auth.js";
import type { AppEnv } from "./env.js";
import { ApiError } from "./errors.js";

const BEARER = /^Bearer[ \t]+(\S+)[ \t]*$/i;

/** 401 without a known token, 403 when the token's role may not call the route. */
export function requireRole(auth: Authenticator, access: Access): MiddlewareHandler<AppEnv> {
  const allowed: readonly string[] = ACCESS[access];
  return async (c, next) => {
    const header = c.req.header("authorization");
    const secret = header ? BEARER.exec(header)?.[1] : undefined;
    if (!secret) throw new ApiError("UNAUTHORIZED", "send Authorization: Bearer <token>");
    const principal = auth.authenticate(secret);
    if (!principal) throw new ApiError("UNAUTHORIZED", "unknown bearer token");
    if (!allowed.includes(principal.role)) {
      throw new ApiError(
        "FORBIDDEN",
        `role ${principal.role} may not call this route (allowed: ${allowed.join(", ")})`,
      );
    }
    c.set("principal", principal);
    await next();
  };
}

const JSON_TYPE = /^application\/([\w.-]+\+)?json\s*(;|$)/i;

/**
 * A POST with a body must say it is JSON. Without this, a body sent as form data would be validated as
 * `{}` and answered with a misleading "field missing"; this answers what is actually wrong.
 */
export function requireJson(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    if (c.req.method === "POST") {
      const type = c.req.header("content-type");
      const length = c.req.header("content-length");
      const hasBody =
        (length !== undefined && length !== "0") || c.req.header("transfer-encoding") !== undefined;
      if (type ? !JSON_TYPE.test(type) : hasBody) {
        throw new ApiError(
          "UNSUPPORTED_MEDIA_TYPE",
          "the body must be JSON: send Content-Type: application/json",
        );
      }
    }
    await next();
  };
}

export function limitBody(maxBytes: number): MiddlewareHandler<AppEnv> {
  return bodyLimit({
    maxSize: maxBytes,
    onError: () => {
      throw new ApiError("PAYLOAD_TOO_LARGE", `the body is larger than ${maxBytes} bytes`);
    },
  });
}

export const KiB = 1024;
