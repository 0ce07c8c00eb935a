/**
 * POST /v1/check/self (the edge only, no bearer token): a participant's own browser asks whether it may
 * join, showing a join ticket the meeting service signed for it. The participant is located where
 * Cloudflare places the caller (`request.cf`), the record is written like any check's (I5), and the
 * answer names no order: a browser learns whether it may join and why in words, not which order.
 */
import { createRoute } from "@hono/zod-openapi";
import { verify } from "hono/jwt";
import { AccountId, Decision, MeetingId } from "../../engine/index.js";
import { pickLanguage } from "../../i18n/language.js";
import { evaluateCaller } from "../../service/check.js";
import { instruments } from "../../telemetry/index.js";
import { ErrorEnvelope, summarise, toIssues } from "../errors.js";
import { AuthFailure } from "../middleware.js";
import { errors, json, jsonBody, z } from "../openapi.js";
import type { App, EdgeServices } from "../services.js";
import { EDGE_CHECKS, requireRuleset } from "./v1-check.js";

export const SELF_CHECK_PATH = "/v1/check/self";

/** A join ticket lives at most this long (`exp - iat`): long enough to join, too short to pass around. */
export const TICKET_MAX_LIFETIME_S = 300;
/** Clock skew allowed between the meeting service and the edge, for `iat` and `nbf` (never for `exp`). */
const SKEW_S = 30;

const TicketClaims = z.object({
  meeting: MeetingId,
  account: AccountId.optional(),
  // Validated, not yet used: the record has no `role` field today.
  role: z.enum(["participant", "host"]).default("participant"),
  iat: z.number().int(),
  exp: z.number().int(),
  nbf: z.number().int().optional(),
});
export type JoinTicket = z.infer<typeof TicketClaims>;

const SelfCheckRequest = z
  .strictObject({
    ticket: z.string().min(1).max(4096).meta({
      description:
        "The join ticket the meeting service issued: a JWT (HS256, CORDON_TICKET_KEY) with claims `meeting`, `account` (optional), `role` (participant or host), `iat`, `exp` (at most 5 minutes after `iat`) and optionally `nbf`.",
      example: "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJtZWV0aW5nIjoiODEyMzQ1Njc4OTAifQ.c2lnbmF0dXJl",
    }),
  })
  .meta({ id: "SelfCheckRequest" });

/** A Decision without `orderIds`: nothing about orders goes to a browser. */
const SelfCheckDecision = Decision.omit({ orderIds: true }).meta({ id: "SelfCheckDecision" });

/** An authentication failure like a bad bearer token: logged, and counted against the client's budget. */
function badTicket(message: string): AuthFailure {
  return new AuthFailure("UNAUTHORIZED", `join ticket: ${message}`);
}

/** The ticket's claims, if `key` signed it (HS256) and it is valid at `nowMs`; else a 401. */
export async function verifyJoinTicket(ticket: string, key: string, nowMs: number): Promise<JoinTicket> {
  let payload: unknown;
  try {
    // The signature, the header and the algorithm; the times are judged below by the runtime's clock.
    payload = await verify(ticket, key, { alg: "HS256", exp: false, nbf: false, iat: false });
  } catch {
    throw badTicket("not signed by the meeting service");
  }
  const parsed = TicketClaims.safeParse(payload);
  if (!parsed.success) throw badTicket(summarise(toIssues(parsed.error)));
  const claims = parsed.data;
  const now = Math.floor(nowMs / 1000);
  if (claims.exp <= now) throw badTicket("expired");
  if (claims.iat > now + SKEW_S) throw badTicket("issued in the future");
  if (claims.nbf !== undefined && claims.nbf > now + SKEW_S) throw badTicket("not valid yet (nbf)");
  if (claims.exp - claims.iat > TICKET_MAX_LIFETIME_S)
    throw badTicket(`valid for more than ${TICKET_MAX_LIFETIME_S} seconds (exp - iat)`);
  return claims;
}

const route = createRoute({
  method: "post",
  path: SELF_CHECK_PATH,
  tags: ["meeting-join"],
  operationId: "checkSelf",
  summary: "Decide whether the calling browser may join, with a join ticket",
  description:
    "For a participant's own browser: no bearer token, a join ticket instead. The participant is located where Cloudflare places the caller (request.cf). Answers 200 with the decision, without order ids; the record is written before the answer (I5).",
  security: [],
  request: { body: jsonBody(SelfCheckRequest, "The join ticket.") },
  responses: {
    200: json(SelfCheckDecision, "The decision, naming no order."),
    ...errors(400, 413, 415, 503),
    401: json(ErrorEnvelope, "The ticket is not signed with CORDON_TICKET_KEY, expired, or lives too long."),
  },
});

/** Registered only when CORDON_TICKET_KEY is set: without a key no ticket could pass, so no route. */
export function registerSelfCheck(app: App, s: EdgeServices, ticketKey: string): void {
  app.openapi(route, async (c) => {
    const now = s.clock();
    const ticket = await verifyJoinTicket(c.req.valid("json").ticket, ticketKey, now);
    requireRuleset(s, EDGE_CHECKS);
    const { decision, record } = evaluateCaller(
      s,
      s.rulesets.current(),
      { meetingId: ticket.meeting, ...(ticket.account === undefined ? {} : { accountId: ticket.account }) },
      now,
      pickLanguage(c.req.header("accept-language")),
      s.locateCaller(c.req.raw),
    );
    await s.decisions.append([record]);
    instruments.decisions.add(1, { code: decision.code });
    const { orderIds: _withheld, ...answer } = decision;
    return c.json(answer, 200);
  });
}
