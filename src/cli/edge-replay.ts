/**
 * `cordon edge-replay`: asks the Worker to re-send its parked decision records to Node's ingest
 * (`POST /v1/edge/replay`, an admin token of the Worker's CORDON_TOKENS), run after run until nothing is
 * parked or a run makes no progress (ingest still down). The Worker's cron trigger does the same every
 * ten minutes; this is for an operator who has just brought ingest back. Uses only `fetch`, so it runs
 * wherever the CLI does (and in the workerd tests).
 * Exit codes: 0 nothing left parked; 1 records remain (the last answer says why); 2 the call failed.
 */

export interface EdgeReplayOptions {
  /** The Worker's base URL (CORDON_EDGE_URL). */
  url: string;
  /** An admin secret of the Worker's CORDON_TOKENS (CORDON_EDGE_ADMIN_TOKEN; never on the command line). */
  token: string;
  fetch?: typeof fetch;
  out: (line: string) => void;
  /** Runs at most (each replays up to 50 parked entries). */
  maxRuns?: number;
}

interface ReplayAnswer {
  replayed: number;
  records: number;
  refused: number;
  failed: number;
  remaining: number;
  more: boolean;
}

export async function edgeReplay(options: EdgeReplayOptions): Promise<number> {
  const doFetch = options.fetch ?? fetch;
  const url = `${options.url.replace(/\/+$/, "")}/v1/edge/replay`;
  let total = { replayed: 0, records: 0, refused: 0 };
  for (let run = 0; run < (options.maxRuns ?? 100); run++) {
    let response: Response;
    try {
      response = await doFetch(url, {
        method: "POST",
        headers: { authorization: `Bearer ${options.token}` },
      });
    } catch (err) {
      options.out(`edge-replay: ${url} unreachable: ${err instanceof Error ? err.message : String(err)}\n`);
      return 2;
    }
    if (!response.ok) {
      options.out(
        `edge-replay: ${url} answered ${response.status}: ${(await response.text()).slice(0, 500)}\n`,
      );
      return 2;
    }
    const answer = (await response.json()) as ReplayAnswer;
    total = {
      replayed: total.replayed + answer.replayed,
      records: total.records + answer.records,
      refused: total.refused + answer.refused,
    };
    const done = answer.remaining === 0 && !answer.more;
    if (done || answer.replayed === 0) {
      options.out(
        `edge-replay: ${total.records} records in ${total.replayed} parked entries sent to ingest` +
          (total.refused > 0 ? `, ${total.refused} refused for good (kept under refused/)` : "") +
          (done
            ? "; nothing left parked\n"
            : `; ${answer.remaining}${answer.more ? "+" : ""} entries still parked (ingest not taking them: ${answer.failed} failed in the last run)\n`),
      );
      return done ? 0 : 1;
    }
  }
  options.out(
    `edge-replay: ${total.records} records sent; stopped after ${options.maxRuns ?? 100} runs, entries remain\n`,
  );
  return 1;
}
