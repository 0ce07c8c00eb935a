/**
 * The client address on Node: the TCP peer of the connection (`@hono/node-server`'s conninfo). Never
 * X-Forwarded-For: any client can send one, and trusting it would let each request pick its own
 * rate-limit bucket. Behind a reverse proxy every client therefore shares the proxy's address for the
 * failure budget (README, "Rate limits"). Undefined for an in-process `app.request`, which has no socket.
 */
import { getConnInfo } from "@hono/node-server/conninfo";
import type { Context } from "hono";

export function nodeClientAddress(c: Context): string | undefined {
  return c.env?.incoming || c.env?.server ? getConnInfo(c).remote.address : undefined;
}
