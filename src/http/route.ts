/**
 * A route behind a bearer token, with its access declared as data: the `ACCESS` key naming who may call
 * it (kernel/roles.ts). The OpenAPI security requirement, the role check and the 401/403 answers follow
 * from that one declaration, so no route writes them out, and none can have one without the others.
 */
import { createRoute, type RouteConfig } from "@hono/zod-openapi";
import type { Access } from "../kernel/roles.js";
import type { Authenticator } from "../service/auth.js";
import { requireRole } from "./middleware.js";
import { bearer, errors } from "./openapi.js";

export function guardedRoute<const R extends Omit<RouteConfig, "security" | "middleware">>(
  auth: Authenticator,
  access: Access,
  route: R,
) {
  return createRoute({
    ...route,
    security: bearer,
    middleware: [requireRole(auth, access)] as const,
    responses: { ...route.responses, ...errors(401, 403, 429) },
  });
}
