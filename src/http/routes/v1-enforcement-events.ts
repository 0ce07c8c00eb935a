/**
 * GET /v1/enforcement/events: Server-Sent Events of blocks taking effect and lifting, for the meeting
 * service, which re-checks the people already inside the named meetings. Replays from the cursor
 * (`Last-Event-ID`, else `?since=`), then follows live; no cursor: live from now. Node only: the Worker
 * has no event store and does not serve it.
 */
import { streamSSE } from "hono/streaming";
import { ENFORCEMENT_EVENT_TYPES } from "../../engine/index.js";
import { CordonError } from "../../kernel/errors.js";
import type { EnforcementEvent } from "../../store/enforcement-events.js";
import { errors, z } from "../openapi.js";
import { guardedRoute } from "../route.js";
import type { App, ServerServices } from "../services.js";

/** A comment line this often keeps proxies from closing an idle stream and shows a dead one. */
export const HEARTBEAT_MS = 15_000;
/** Events read from the store at a time while replaying. */
const PAGE = 500;
const CURSOR_MAX = 64;

export const EnforcementEventData = z
  .object({
    id: z.string().meta({ description: "The event's id, also its SSE `id:`: the cursor to resume after." }),
    type: z.enum(ENFORCEMENT_EVENT_TYPES).meta({ description: "Also the SSE `event:` name." }),
    orderId: z.string(),
    target: z.union([
      z.object({ kind: z.literal("meeting"), meetingIds: z.array(z.string()) }),
      z.object({ kind: z.literal("account"), accountIds: z.array(z.string()) }),
    ]),
    jurisdictions: z.array(z.string()).meta({ description: "The block's jurisdictions." }),
    at: z.string().meta({ description: "When Cordon published it (ISO 8601)." }),
    rulesetVersion: z.number().int(),
  })
  .meta({
    id: "EnforcementEvent",
    description:
      "The `data:` of one event. `block-effective`: the order now refuses participants in this scope (re-check the people inside the named meetings, or the meetings of the named accounts). `block-lifted`: the order no longer refuses in the scope it had (withdrawn, expired, narrowed: the scope before the change).",
  });

const route = (s: ServerServices) =>
  guardedRoute(s.auth, "enforcementEvents", {
    method: "get",
    path: "/v1/enforcement/events",
    tags: ["meeting-join"],
    operationId: "followEnforcementEvents",
    summary: "Follow blocks taking effect and lifting (Server-Sent Events)",
    description: [
      "A `text/event-stream`: each event has an `id:`, `event: block-effective` or `block-lifted`, and `data:` (EnforcementEvent).",
      "Resume with the `Last-Event-ID` header (what EventSource sends on reconnect) or `?since=<id>`: the events after it, then live, on any instance.",
      "Without either: live from now. `since=0`: every event still kept.",
      `A comment line every ${HEARTBEAT_MS / 1000} s keeps the connection alive.`,
      "When events after the cursor were dropped by the retention (CORDON_EVENTS_RETENTION_HOURS), or the cursor lies beyond the newest event (an event store emptied since), the stream starts with `event: events-lost` (no id), then every event kept: re-check every meeting in progress, then go on from what follows.",
      "Node only: the Worker does not serve it.",
    ].join(" "),
    request: {
      query: z.strictObject({
        since: z
          .string()
          .max(CURSOR_MAX)
          .optional()
          .meta({ description: "Resume after this event id (`0`: from the oldest kept)." }),
      }),
      headers: z.object({
        "last-event-id": z
          .string()
          .max(CURSOR_MAX)
          .optional()
          .meta({ description: "Resume after this event id; wins over `since`." }),
      }),
    },
    responses: {
      200: {
        description: "The event stream.",
        content: { "text/event-stream": { schema: EnforcementEventData } },
      },
      ...errors(400, 503),
    },
  });

/** The event as the contract names its fields, in that order. */
function wire(e: EnforcementEvent): z.infer<typeof EnforcementEventData> {
  return {
    id: e.id,
    type: e.type,
    orderId: e.orderId,
    target: e.target,
    jurisdictions: e.jurisdictions,
    at: e.at,
    rulesetVersion: e.rulesetVersion,
  };
}

export function registerEnforcementEvents(app: App, s: ServerServices): void {
  const store = s.enforcementEvents;
  app.openapi(route(s), async (c) => {
    const since = c.req.valid("query").since;
    const header = c.req.valid("header")["last-event-id"];
    const given = header ?? since;
    if (given !== undefined && !store.isCursor(given)) {
      const path = header !== undefined ? "header.last-event-id" : "query.since";
      const message = "not an event id of this server";
      throw new CordonError("BAD_REQUEST", `${path}: ${message}`, [{ path, message }]);
    }
    // Listening before the first read: an event published in between wakes the loop instead of waiting
    // for the next heartbeat.
    let pending = false;
    let closing = false;
    let wake: (() => void) | undefined;
    const stopListening = store.listen((ends) => {
      if (ends) closing = true;
      pending = true;
      wake?.();
    });
    let cursor: string;
    let page: Awaited<ReturnType<typeof store.read>>;
    /** The cursor an `events-lost` names, when it is not the one read from. */
    let lostAfter: string | undefined;
    try {
      const latest = await store.latest();
      cursor = given ?? latest;
      // A cursor beyond the newest event is not of this history (an event store emptied or replaced
      // since): what the subscriber missed cannot be told, so it is told that, and gets all that is kept.
      const foreign = store.compare(cursor, latest) > 0;
      if (foreign) {
        lostAfter = cursor;
        cursor = "0";
      }
      // Read before the stream starts: a store that is away answers 503 with the envelope.
      page = await store.read(cursor, PAGE);
      if (foreign) page = { ...page, lost: true };
    } catch (err) {
      stopListening();
      throw err;
    }
    const response = streamSSE(c, async (stream) => {
      stream.onAbort(() => wake?.());
      try {
        for (;;) {
          if (page.lost) {
            await stream.writeSSE({
              event: "events-lost",
              data: JSON.stringify({
                after: lostAfter ?? cursor,
                message:
                  "the events after this id cannot be replayed (no longer kept, or of an event store since emptied): re-check every meeting in progress",
              }),
            });
          }
          lostAfter = undefined;
          for (const e of page.events) {
            await stream.writeSSE({ id: e.id, event: e.type, data: JSON.stringify(wire(e)) });
            cursor = e.id;
          }
          if (stream.aborted || closing) return;
          if (page.events.length < PAGE && !pending) {
            const woken = await new Promise<boolean>((resolve) => {
              const timer = setTimeout(() => resolve(false), HEARTBEAT_MS);
              wake = () => {
                clearTimeout(timer);
                resolve(true);
              };
            });
            wake = undefined;
            if (stream.aborted || closing) return;
            if (!woken) await stream.write(": heartbeat\n\n");
          }
          pending = false;
          page = await store.read(cursor, PAGE).catch((err: unknown) => {
            // The store is away for a moment: the stream stays open and reads again on the next wake (the
            // reconciler's readiness and warnings report the outage; one line per subscriber would repeat it).
            s.logger.debug("enforcement events: read failed", { error: (err as Error).message });
            return { events: [], lost: false };
          });
        }
      } finally {
        stopListening();
      }
    });
    // streamSSE says no-cache; Cordon's answers are never stored anywhere (DESIGN, "HTTP API").
    response.headers.set("Cache-Control", "no-store");
    return response as never;
  });
}
