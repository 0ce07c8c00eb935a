/**
 * POST /v1/check: the meeting-join flow asks whether one participant may join. A denial is a 200.
 * On the edge surface `ip` may be left out (a participant's browser calling the Worker directly): the
 * runtime's own view of the caller (`request.cf`) locates it then.
 */
import { createRoute } from "@hono/zod-openapi";
import { AccountId, Decision, MeetingId } from "../../engine/index.js";
import { parseIp } from "../../geo/ip.js";
import { pickLanguage } from "../../i18n/notice.js";
import { evaluate } from "../../service/check.js";
import { instruments, tracer } from "../../telemetry/index.js";
import type { App, Services, Surface } from "../env.js";
import { ApiError } from "../errors.js";
import { requireRole } from "../middleware.js";
import { bearer, errors, json, jsonBody, z } from "../openapi.js";

export const Ip = z
  .string()
  .max(64, "must be an IPv4 or IPv6 address")
  .transform((value, ctx) => {
    const parsed = parseIp(value);
    if (parsed) return parsed.ip;
    ctx.addIssue({
      code: "custom",
      message: "must be an IPv4 or IPv6 address, such as 203.0.113.7 or 2001:db8::1",
    });
    return z.NEVER;
  })
  .meta({
    description: "The participant's IP address (IPv4, IPv6 or IPv4-mapped IPv6).",
    example: "203.0.113.7",
  });

export const CheckRequest = z
  .strictObject({ meetingId: MeetingId, ip: Ip, accountId: AccountId.optional() })
  .meta({ id: "CheckRequest" });

/** The edge surface's request: `ip` optional (its own id, since the OpenAPI registry is shared). */
export const EdgeCheckRequest = z
  .strictObject({
    meetingId: MeetingId,
    ip: Ip.optional().meta({
      description:
        "The participant's IP address. Leave it out when the participant's browser calls the edge itself: Cloudflare's location of the caller (request.cf) is used then.",
    }),
    accountId: AccountId.optional(),
  })
  .meta({ id: "EdgeCheckRequest" });

/** The check request the surface accepts: Node requires `ip` (400 without it); the edge does not. */
export function checkRequestOf(surface: Surface) {
  return surface === "edge" ? EdgeCheckRequest : CheckRequest;
}

/**
 * The edge answers checks only from a verified ruleset it has loaded: without one (KV empty, unreadable
 * or refused since this isolate started) the empty ruleset would silently allow every blocked
 * participant, so that is a fault (503) and the join flow retries or falls back to Node. Node is left
 * as it was: it compiles at start, and in a Redis outage keeps answering from what it has.
 */
export function requireRuleset(s: Services, surface: Surface): void {
  if (surface === "edge" && !s.rulesets.isLoaded()) {
    throw new ApiError("UNAVAILABLE", "no ruleset loaded yet; try again");
  }
}

const route = (s: Services, surface: Surface) =>
  createRoute({
    method: "post",
    path: "/v1/check",
    tags: ["meeting-join"],
    summary: "Decide whether a participant may join a meeting",
    description:
      "Answers 200 with the decision for every well-formed request, `deny` included (I4). The decision record is written before the answer is sent (I5).",
    security: bearer,
    middleware: [requireRole(s.auth, "check")] as const,
    request: { body: jsonBody(checkRequestOf(surface), "The join to check.") },
    responses: {
      200: json(Decision, "The decision."),
      ...errors(400, 401, 403, 413, 415, 503),
    },
  });

export function registerCheck(app: App, s: Services, surface: Surface = "full"): void {
  app.openapi(route(s, surface), async (c) => {
    const started = performance.now();
    const span = tracer.startSpan("cordon.check");
    try {
      const input = c.req.valid("json");
      requireRuleset(s, surface);
      const { decision, record } = await evaluate(
        s,
        s.rulesets.current(),
        input,
        s.clock(),
        pickLanguage(c.req.header("accept-language")),
        input.ip === undefined ? s.locateCaller?.(c.req.raw) : undefined,
      );
      await s.store.append([record]);
      span.setAttribute("cordon.decision.code", decision.code);
      instruments.decisions.add(1, { code: decision.code });
      return c.json(decision, 200);
    } finally {
      span.end();
      instruments.checkDuration.record(performance.now() - started);
    }
  });
}
