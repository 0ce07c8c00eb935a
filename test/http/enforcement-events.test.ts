/**
 * GET /v1/enforcement/events in process (embedded journal, the harness clock): which order changes give
 * which events, events fired by time alone, resuming with Last-Event-ID or `since`, and bad cursors.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Harness, makeHarness, orderInput, secretOf, type Who } from "../support/harness.js";
import { SseReader } from "../support/sse.js";

let h: Harness;
const open: SseReader[] = [];
let meetingSeq = 0;

beforeAll(async () => {
  h = await makeHarness();
});
afterAll(async () => {
  for (const r of open) await r.close();
  await h.close();
});

async function subscribe(opts: { since?: string; lastEventId?: string; as?: Who } = {}): Promise<SseReader> {
  const query = opts.since === undefined ? "" : `?since=${encodeURIComponent(opts.since)}`;
  const res = await h.app.request(`/v1/enforcement/events${query}`, {
    headers: {
      authorization: `Bearer ${secretOf(opts.as ?? "checker")}`,
      ...(opts.lastEventId === undefined ? {} : { "last-event-id": opts.lastEventId }),
    },
  });
  expect(res.status).toBe(200);
  const reader = new SseReader(res);
  open.push(reader);
  return reader;
}

async function create(overrides: Record<string, unknown> = {}): Promise<{ id: string; meetingId: string }> {
  const meetingId = `ev-${++meetingSeq}`;
  const res = await h.call("POST", "/v1/orders", {
    as: "responder",
    body: orderInput({ target: { kind: "meeting", meetingIds: [meetingId] }, ...overrides }),
  });
  expect(res.status).toBe(201);
  return { id: res.body.id, meetingId };
}

async function approve(id: string): Promise<void> {
  const res = await h.call("POST", `/v1/orders/${id}/approve`, { as: "approver", body: {} });
  expect(res.status).toBe(200);
}

async function amend(id: string, changes: Record<string, unknown>): Promise<void> {
  const proposed = await h.call("POST", `/v1/orders/${id}/amendments`, {
    as: "responder",
    body: { changes, reason: "the authority amended its order" },
  });
  expect(proposed.status).toBe(201);
  const approved = await h.call("POST", `/v1/orders/${id}/amendments/${proposed.body.id}/approve`, {
    as: "approver",
    body: {},
  });
  expect(approved.status).toBe(200);
}

/** The `[type, jurisdictions]` of events as their data says. */
const summary = (reader: SseReader) => reader.data().map((e) => [e.type, e.jurisdictions]);

describe("which changes give which events", () => {
  it("an approval: block-effective, with the contract's fields, as text/event-stream", async () => {
    const reader = await subscribe();
    expect(reader.response.headers.get("content-type")).toMatch(/^text\/event-stream/);
    expect(reader.response.headers.get("cache-control")).toBe("no-store");
    const { id, meetingId } = await create();
    await approve(id);
    const [event] = await reader.waitFor(1);
    expect(event?.event).toBe("block-effective");
    const data = JSON.parse(event?.data ?? "{}");
    expect(Object.keys(data)).toEqual([
      "id",
      "type",
      "orderId",
      "target",
      "jurisdictions",
      "at",
      "rulesetVersion",
    ]);
    expect(data).toMatchObject({
      id: event?.id,
      type: "block-effective",
      orderId: id,
      target: { kind: "meeting", meetingIds: [meetingId] },
      jurisdictions: ["IN-MH"],
      at: new Date(h.clock.now).toISOString(),
    });
    expect(data.rulesetVersion).toBe((await h.call("GET", "/v1/ruleset", { as: "auditor" })).body.version);
  });

  it("a withdrawal: block-lifted with the scope it had", async () => {
    const { id, meetingId } = await create();
    await approve(id);
    const reader = await subscribe();
    const res = await h.call("POST", `/v1/orders/${id}/withdraw`, { as: "responder", body: {} });
    expect(res.status).toBe(200);
    await reader.waitFor(1);
    expect(reader.data()).toMatchObject([
      { type: "block-lifted", orderId: id, target: { meetingIds: [meetingId] }, jurisdictions: ["IN-MH"] },
    ]);
  });

  it("a pending order withdrawn, or rejected, gives nothing", async () => {
    const reader = await subscribe();
    const a = await create();
    await h.call("POST", `/v1/orders/${a.id}/withdraw`, { as: "responder", body: {} });
    const b = await create();
    await h.call("POST", `/v1/orders/${b.id}/reject`, { as: "approver", body: { reason: "no" } });
    // A marker after them: had they given events, those would come first.
    const c = await create();
    await approve(c.id);
    await reader.waitFor(1);
    expect(reader.data().map((e) => e.orderId)).toEqual([c.id]);
  });

  it("amendments: widening takes effect, narrowing lifts, both give both (lifted first)", async () => {
    const { id } = await create({ requested: { jurisdictions: ["IN-MH", "IN-KA"] } });
    await approve(id);
    const reader = await subscribe();
    await amend(id, { jurisdictions: ["IN-MH", "IN-KA"] });
    await reader.waitFor(1);
    await amend(id, { jurisdictions: ["IN-MH"] });
    await reader.waitFor(2);
    await amend(id, { jurisdictions: ["IN-KA"] });
    await reader.waitFor(4);
    expect(summary(reader)).toEqual([
      ["block-effective", ["IN-KA", "IN-MH"]],
      ["block-lifted", ["IN-KA", "IN-MH"]],
      ["block-lifted", ["IN-MH"]],
      ["block-effective", ["IN-KA"]],
    ]);
    // An amendment that changes nothing enforced (the reference) gives nothing.
    await amend(id, { reference: "WP/1234/2026-A" });
    const marker = await create();
    await approve(marker.id);
    await reader.waitFor(5);
    expect(reader.data().at(-1)?.orderId).toBe(marker.id);
  });

  it("a shadow order never gives events; turned enforcing it takes effect, and back it lifts", async () => {
    const reader = await subscribe();
    const { id } = await create({ mode: "shadow" });
    await approve(id);
    await amend(id, { mode: "enforce" });
    await reader.waitFor(1);
    await amend(id, { mode: "shadow" });
    await reader.waitFor(2);
    expect(reader.data().map((e) => [e.type, e.orderId])).toEqual([
      ["block-effective", id],
      ["block-lifted", id],
    ]);
  });
});

describe("events fired by time alone", () => {
  it("effectiveFrom and effectiveUntil reached, with no request and no order change", async () => {
    const start = h.clock.now + 300;
    const { id } = await create({
      effectiveFrom: new Date(start).toISOString(),
      effectiveUntil: new Date(start + 300).toISOString(),
    });
    await approve(id);
    const reader = await subscribe();
    // Approved for later: nothing yet. Then the clock passes each boundary; the reconciler's own timer
    // (armed at the boundary) notices, nothing else is called.
    await new Promise((r) => setTimeout(r, 100));
    expect(reader.events).toEqual([]);
    h.clock.now = start;
    await reader.waitFor(1, 3000);
    h.clock.now = start + 300;
    await reader.waitFor(2, 3000);
    expect(reader.data().map((e) => [e.type, e.orderId, e.at])).toEqual([
      ["block-effective", id, new Date(start).toISOString()],
      ["block-lifted", id, new Date(start + 300).toISOString()],
    ]);
  });
});

describe("resuming", () => {
  it("Last-Event-ID and since give exactly the events after the cursor, then follow live", async () => {
    const first = await subscribe();
    const a = await create();
    await approve(a.id);
    const [seen] = await first.waitFor(1);
    await first.close();
    // Missed while away.
    const b = await create();
    await approve(b.id);
    await h.call("POST", `/v1/orders/${a.id}/withdraw`, { as: "responder", body: {} });

    const byHeader = await subscribe({ lastEventId: seen?.id as string });
    const bySince = await subscribe({ since: seen?.id as string });
    // The header wins over `since` (EventSource keeps the URL's since and sends the header on reconnect).
    const both = await subscribe({ since: "0", lastEventId: seen?.id as string });
    for (const r of [byHeader, bySince, both]) {
      await r.waitFor(2);
      expect(r.data().map((e) => [e.type, e.orderId])).toEqual([
        ["block-effective", b.id],
        ["block-lifted", a.id],
      ]);
    }
    // And then live.
    const c = await create();
    await approve(c.id);
    await byHeader.waitFor(3);
    expect(byHeader.data()[2].orderId).toBe(c.id);
    const ids = byHeader.events.map((e) => Number(e.id));
    expect(ids).toEqual([...ids].sort((x, y) => x - y));
    expect(new Set(ids).size).toBe(3);
  });

  it("since=0 replays every event kept", async () => {
    const all = await subscribe({ since: "0" });
    const latest = await h.events.store.latest();
    await all.waitFor(Number(latest));
    expect(all.events.map((e) => e.id)).toEqual(
      Array.from({ length: Number(latest) }, (_, i) => String(i + 1)),
    );
  });

  it("a cursor beyond the newest event (another history) says events-lost, then gives all that is kept", async () => {
    const latest = Number(await h.events.store.latest());
    const reader = await subscribe({ lastEventId: String(latest + 1000) });
    await reader.waitFor(latest + 1);
    expect(reader.events[0]?.event).toBe("events-lost");
    expect(reader.events[0]?.id).toBeUndefined();
    expect(JSON.parse(reader.events[0]?.data ?? "{}").after).toBe(String(latest + 1000));
    expect(reader.events.slice(1).map((e) => e.id)).toEqual(
      Array.from({ length: latest }, (_, i) => String(i + 1)),
    );
  });

  it("without a cursor, follows from now: nothing earlier is replayed", async () => {
    const reader = await subscribe();
    const { id } = await create();
    await approve(id);
    await reader.waitFor(1);
    expect(reader.data().map((e) => e.orderId)).toEqual([id]);
  });
});

describe("bad input and access", () => {
  it.each([
    ["query.since", "?since=abc", {}],
    ["query.since", "?since=-1", {}],
    ["header.last-event-id", "", { "last-event-id": "1733551234567-0" }],
  ])("answers 400 with the envelope for a cursor that is not one (%s %s)", async (path, query, headers) => {
    const res = await h.call("GET", `/v1/enforcement/events${query}`, { as: "checker", headers });
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ code: "BAD_REQUEST", issues: [{ path }] });
    expect(res.body.error.requestId).toEqual(expect.any(String));
  });

  it.each([
    ["responder", 403],
    ["auditor", 403],
    ["edge", 403],
  ] as const)("refuses %s", async (who, status) => {
    const res = await h.call("GET", "/v1/enforcement/events?since=x", { as: who });
    expect(res.status).toBe(status);
    expect(res.body.error.code).toBe("FORBIDDEN");
  });

  it("admin may follow, as the access table says", async () => {
    await subscribe({ as: "admin" });
  });

  it("is documented as text/event-stream in the OpenAPI document", async () => {
    const doc = (await h.call("GET", "/openapi.json")).body;
    const op = doc.paths["/v1/enforcement/events"].get;
    expect(Object.keys(op.responses["200"].content)).toEqual(["text/event-stream"]);
    expect(op.security).toEqual([{ bearerAuth: [] }]);
    expect(doc.components.schemas.EnforcementEvent).toBeDefined();
  });
});
