/**
 * POST /v1/check: the meeting-join flow asks whether one participant may join. A denial is a 200.
 * `ip` (or `phone`, for a dial-in caller) is required on both runtimes: a check without it would be
 * located where its caller (a server of the join flow) is. A participant's browser calls the edge's
 * `/v1/check/self` instead. `role: "host"` checks the person starting or hosting the meeting.
 */
import { AccountId, CheckRole, Decision, MeetingId } from "../../engine/index.js";
import { pickLanguage } from "../../i18n/language.js";
import { CordonError } from "../../kernel/errors.js";
import {
  type CheckInput,
  type Evaluated,
  evaluate,
  Ip,
  located,
  Phone,
  requireOneLocator,
} from "../../service/check.js";
import { instruments, tracer } from "../../telemetry/index.js";
import { errors, json, jsonBody, z } from "../openapi.js";
import { guardedRoute } from "../route.js";
import type { App, CheckServices } from "../services.js";

/** The fields of one participant to check, shared by the check, the batch and the re-check. */
export const ParticipantFields = {
  ip: Ip.optional(),
  phone: Phone.optional(),
  accountId: AccountId.optional(),
  role: CheckRole.optional(),
};

export const CheckRequest = z
  .strictObject({ meetingId: MeetingId, ...ParticipantFields })
  .superRefine(requireOneLocator)
  .meta({
    id: "CheckRequest",
    description: "One join to check: exactly one of `ip` and `phone`.",
  });

export const MAX_BATCH = 1000;

export const BatchRequest = z
  .strictObject({ checks: z.array(CheckRequest).min(1).max(MAX_BATCH) })
  .meta({ id: "CheckBatchRequest" });

/**
 * How checks are served, chosen by the app's composition (`http/app.ts`). The requests are the same on
 * both runtimes (`ip` required). At the edge checks wait for a verified ruleset: without one the empty ruleset would
 * silently allow every blocked participant, so that is a fault (503) and the join flow retries or falls
 * back to Node. The server compiles at start, and in a Redis outage keeps answering from what it has.
 */
export interface CheckVariant {
  /** 503 until a ruleset is loaded (the edge). */
  requireLoadedRuleset: boolean;
}

export const SERVER_CHECKS: CheckVariant = { requireLoadedRuleset: false };

export const EDGE_CHECKS: CheckVariant = { requireLoadedRuleset: true };

export function requireRuleset(s: CheckServices, variant: CheckVariant): void {
  if (variant.requireLoadedRuleset && !s.rulesets.isLoaded()) {
    throw new CordonError("UNAVAILABLE", "no ruleset loaded yet; try again");
  }
}

const route = (s: CheckServices) =>
  guardedRoute(s.auth, "check", {
    method: "post",
    path: "/v1/check",
    tags: ["meeting-join"],
    operationId: "checkJoin",
    summary: "Decide whether a participant may join a meeting",
    description:
      "Answers 200 with the decision for every well-formed request, `deny` included (I4). The decision record is written before the answer is sent (I5).",
    request: { body: jsonBody(CheckRequest, "The join to check.") },
    responses: {
      200: json(Decision, "The decision."),
      ...errors(400, 413, 415, 503),
    },
  });

export function registerCheck(app: App, s: CheckServices, variant: CheckVariant): void {
  app.openapi(route(s), async (c) =>
    c.json(await answerCheck(s, variant, located(c.req.valid("json")), c.req.header("accept-language")), 200),
  );
}

/** Where `checkInto` hands a check's outcome, with the caller's own `sink` (no closure per check). */
export interface CheckOutcome<T> {
  decided(sink: T, decision: Decision): void;
  failed(sink: T, err: unknown): void;
}

/** One attribute object per code for the decisions counter, made once. */
const CODE_ATTRIBUTES = new Map<string, Readonly<{ code: string }>>();
function codeAttributes(code: string): Readonly<{ code: string }> {
  let attributes = CODE_ATTRIBUTES.get(code);
  if (attributes === undefined) {
    attributes = Object.freeze({ code });
    CODE_ATTRIBUTES.set(code, attributes);
  }
  return attributes;
}

/**
 * One check answered, its record written first (I5): the route's work after validation, shared with the
 * fast path (`http/routes/check-fast-path.ts`), which reads the same body without the router. The
 * outcome goes to `outcome` once the record is written (or the check failed); no promise of its own, so
 * a check on the fast path costs the log's one write and nothing more to wait on.
 */
export function checkInto<T>(
  s: CheckServices,
  variant: CheckVariant,
  input: CheckInput,
  acceptLanguage: string | undefined,
  sink: T,
  outcome: CheckOutcome<T>,
): void {
  const started = performance.now();
  const span = tracer.startSpan("cordon.check");
  // One closure ends the check either way: with its decision once the record is written, or failed.
  const end: End = (failure, decision) => {
    if (decision !== undefined) {
      try {
        span.setAttribute("cordon.decision.code", decision.code);
        instruments.decisions.add(1, codeAttributes(decision.code));
      } catch (err) {
        failure = err;
        decision = undefined;
      }
    }
    span.end();
    instruments.checkDuration.record(performance.now() - started);
    if (decision === undefined) outcome.failed(sink, failure);
    else outcome.decided(sink, decision);
  };
  let evaluated: Evaluated | Promise<Evaluated>;
  try {
    requireRuleset(s, variant);
    evaluated = evaluate(s, s.rulesets.current(), input, s.clock(), pickLanguage(acceptLanguage));
  } catch (err) {
    end(err);
    return;
  }
  if (evaluated instanceof Promise) evaluated.then((e) => writeRecord(s, e, end), end);
  else writeRecord(s, evaluated, end);
}

type End = (failure: unknown, decision?: Decision) => void;

/** The record handed to the log; the check ends with its decision once the log has it (I5). */
function writeRecord(s: CheckServices, { decision, record }: Evaluated, end: End): void {
  let written: Promise<void>;
  try {
    written = s.decisions.append([record]);
  } catch (err) {
    end(err);
    return;
  }
  written.then(() => end(undefined, decision), end);
}

const SETTLE: CheckOutcome<{ resolve: (d: Decision) => void; reject: (err: unknown) => void }> = {
  decided: (sink, decision) => sink.resolve(decision),
  failed: (sink, err) => sink.reject(err),
};

/** `checkInto` as a promise, for the route. */
export function answerCheck(
  s: CheckServices,
  variant: CheckVariant,
  input: CheckInput,
  acceptLanguage: string | undefined,
): Promise<Decision> {
  return new Promise((resolve, reject) =>
    checkInto(s, variant, input, acceptLanguage, { resolve, reject }, SETTLE),
  );
}
