/**
 * POST /v1/meetings/{meetingId}/recheck: the meeting service asks which of the people already inside a
 * meeting must leave, typically after an enforcement event (`block-effective`) names the meeting or one
 * of the participants' accounts. Each participant is checked as a join would be, against the same
 * ruleset and clock, and recorded with `phase: "in_meeting"`: a deny there is a removal, and the report
 * counts it as a participant removed from a meeting in progress. `remove` lists the `participantId`s
 * denied, in request order; `results` has every decision, in request order.
 *
 * `participantId` is the meeting service's own handle for the person in the meeting (a connection or
 * roster id): it is echoed back, never stored, so it must not be an address or a phone number either.
 */
import { Decision, IDENTIFIER, MeetingId } from "../../engine/index.js";
import { pickLanguage } from "../../i18n/language.js";
import { evaluate, located, requireOneLocator } from "../../service/check.js";
import { instruments } from "../../telemetry/index.js";
import { errors, json, jsonBody, z } from "../openapi.js";
import { guardedRoute } from "../route.js";
import type { App, CheckServices } from "../services.js";
import { type CheckVariant, MAX_BATCH, ParticipantFields, requireRuleset } from "./v1-check.js";

export const RECHECK_PATH = "/v1/meetings/{meetingId}/recheck";

const ParticipantId = z
  .string()
  .regex(
    IDENTIFIER,
    "must be 1-128 characters: letters, digits and . _ : @ - (the meeting service's handle for the participant)",
  )
  .meta({
    description: "The meeting service's handle for the participant; echoed in `remove`, never stored.",
  });

const RecheckParticipant = z
  .strictObject({ participantId: ParticipantId, ...ParticipantFields })
  .superRefine(requireOneLocator)
  .meta({
    id: "RecheckParticipant",
    description: "Someone already inside the meeting: exactly one of `ip` and `phone`.",
  });

export const RecheckRequest = z
  .strictObject({
    participants: z
      .array(RecheckParticipant)
      .min(1)
      .max(MAX_BATCH)
      .superRefine((list, ctx) => {
        const seen = new Set<string>();
        list.forEach((p, i) => {
          if (seen.has(p.participantId))
            ctx.addIssue({
              code: "custom",
              path: [i, "participantId"],
              message: `${p.participantId} is listed twice`,
            });
          seen.add(p.participantId);
        });
      }),
  })
  .meta({ id: "RecheckRequest" });

export const RecheckResponse = z
  .object({
    remove: z
      .array(z.string())
      .meta({ description: "The participants to remove from the meeting now, in request order." }),
    results: z.array(Decision).meta({ description: "Every participant's decision, in request order." }),
  })
  .meta({ id: "RecheckResponse" });

const route = (s: CheckServices) =>
  guardedRoute(s.auth, "check", {
    method: "post",
    path: RECHECK_PATH,
    tags: ["meeting-join"],
    operationId: "recheckMeeting",
    summary: "Re-check the people already inside a meeting",
    description:
      'After an enforcement event: decides for 1 to 1000 participants already inside the meeting whether they may stay. Those denied are listed in `remove`; their records have `phase: "in_meeting"` and count in the report as participants removed. One malformed participant fails the whole request with 400.',
    request: {
      params: z.object({ meetingId: MeetingId }),
      body: jsonBody(RecheckRequest, "The participants inside the meeting."),
    },
    responses: {
      200: json(RecheckResponse, "Who must leave, and every decision."),
      ...errors(400, 413, 415, 503),
    },
  });

export function registerRecheck(app: App, s: CheckServices, variant: CheckVariant): void {
  app.openapi(route(s), async (c) => {
    const { meetingId } = c.req.valid("param");
    const { participants } = c.req.valid("json");
    requireRuleset(s, variant);
    const ruleset = s.rulesets.current();
    const now = s.clock();
    const lang = pickLanguage(c.req.header("accept-language"));
    const evaluated = await Promise.all(
      participants.map(({ participantId: _handle, ...p }) =>
        evaluate(s, ruleset, located({ ...p, meetingId }), now, lang, "in_meeting"),
      ),
    );
    await s.decisions.append(evaluated.map((e) => e.record));
    const remove: string[] = [];
    evaluated.forEach((e, i) => {
      instruments.decisions.add(1, { code: e.decision.code });
      if (e.decision.decision === "deny")
        remove.push((participants[i] as { participantId: string }).participantId);
    });
    return c.json({ remove, results: evaluated.map((e) => e.decision) }, 200);
  });
}
