/**
 * The Node service's ingest route as the workerd tests meet it, running in the vitest process (Node):
 * Miniflare routes the Worker's outbound fetches here (`outboundService`), so the Queue consumer's
 * `POST ${CORDON_INGEST_URL}/v1/decisions/ingest` lands in this sink. Like the real route, it appends
 * each decisionId once; unlike it, it also counts every time an id arrived, so a test can tell a
 * retried delivery from a single one.
 *
 * Tests drive it through a service binding (`INGEST_SINK`): `GET /state`, `POST /reset`,
 * `POST /fail?times=N&mode=after-store|before-store` (the next N deliveries answer 503; `after-store`
 * keeps their records first, as a Node instance does whose answer is lost on the way back),
 * `POST /refuse` with `{decisionId: code}` (ingest refuses those records with that code, as Node's
 * route does, and stores nothing of them).
 */

export interface SinkState {
  /** Every ingest call: how many records it carried and the status it got. */
  deliveries: { records: number; status: number }[];
  /** decisionId -> how many times it arrived. */
  arrivals: Record<string, number>;
  /** decisionId -> how many times it was appended (the dedupe makes this 1). */
  appended: Record<string, number>;
  /** The records appended, in order. */
  records: { decisionId: string; [field: string]: unknown }[];
}

type FailMode = "after-store" | "before-store";

export function ingestSink(opts: { token: string; path?: string }) {
  const path = opts.path ?? "/v1/decisions/ingest";
  let state: SinkState = empty();
  let fail = { times: 0, mode: "after-store" as FailMode };
  let refuse: Record<string, string> = {};

  function empty(): SinkState {
    return { deliveries: [], arrivals: {}, appended: {}, records: [] };
  }

  /** Stores what is not refused; answers the refusals as Node's ingest route does. */
  function store(records: SinkState["records"]): { index: number; code: string; message: string }[] {
    const refused: { index: number; code: string; message: string }[] = [];
    for (const [index, record] of records.entries()) {
      state.arrivals[record.decisionId] = (state.arrivals[record.decisionId] ?? 0) + 1;
      const code = refuse[record.decisionId];
      if (code !== undefined) {
        refused.push({ index, code, message: `sink: refused as ${code}` });
        continue;
      }
      if (state.appended[record.decisionId] !== undefined) continue;
      state.appended[record.decisionId] = 1;
      state.records.push(record);
    }
    return refused;
  }

  /** The Worker's outbound fetches. */
  async function outbound(request: Request): Promise<Response> {
    const url = new URL(request.url);
    if (request.method !== "POST" || url.pathname !== path) {
      return Response.json({ error: `sink: no route ${request.method} ${url.pathname}` }, { status: 404 });
    }
    if (request.headers.get("authorization") !== `Bearer ${opts.token}`) {
      state.deliveries.push({ records: 0, status: 401 });
      return Response.json({ error: "sink: bad token" }, { status: 401 });
    }
    const { records } = (await request.json()) as { records: SinkState["records"] };
    if (fail.times > 0) {
      fail.times--;
      if (fail.mode === "after-store") store(records);
      state.deliveries.push({ records: records.length, status: 503 });
      return Response.json({ error: "sink: failing on purpose" }, { status: 503 });
    }
    const before = state.records.length;
    const refused = store(records);
    state.deliveries.push({ records: records.length, status: 200 });
    const accepted = state.records.length - before;
    return Response.json({ accepted, skipped: records.length - accepted - refused.length, refused });
  }

  /** The tests' handle on the sink. */
  async function control(request: Request): Promise<Response> {
    const url = new URL(request.url);
    if (url.pathname === "/state") return Response.json(state);
    if (url.pathname === "/reset") {
      state = empty();
      fail = { times: 0, mode: "after-store" };
      refuse = {};
      return Response.json({ ok: true });
    }
    if (url.pathname === "/fail") {
      fail = {
        times: Number(url.searchParams.get("times") ?? "1"),
        mode: (url.searchParams.get("mode") as FailMode | null) ?? "after-store",
      };
      return Response.json({ ok: true });
    }
    if (url.pathname === "/refuse") {
      refuse = { ...refuse, ...((await request.json()) as Record<string, string>) };
      return Response.json({ ok: true });
    }
    return Response.json({ error: `sink control: no route ${url.pathname}` }, { status: 404 });
  }

  return { outbound, control };
}
