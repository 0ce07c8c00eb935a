/**
 * Enforcement events of the embedded server (`npm start`, no Redis): a shutdown with a subscriber
 * connected ends its stream instead of waiting on it, and after a restart the subscriber resumes with
 * its Last-Event-ID: the journal kept the events and the sequence goes on.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { cityDatabase } from "../support/fixtures.js";
import { orderInput } from "../support/harness.js";
import { api, type ServerProcess, secret, startServer, TOKENS } from "../support/server.js";
import { SseReader } from "../support/sse.js";

let dir: string;
let env: Record<string, string>;
const servers: ServerProcess[] = [];
const readers: SseReader[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "cordon-events-embedded-"));
  await writeFile(join(dir, "City.mmdb"), cityDatabase());
  env = {
    CORDON_DATA_DIR: join(dir, "data"),
    CORDON_GEOIP_DB: join(dir, "City.mmdb"),
    CORDON_TOKENS: Object.values(TOKENS).join(","),
  };
});

afterAll(async () => {
  for (const r of readers) await r.close();
  for (const s of servers) await s.stop("SIGKILL");
  await rm(dir, { recursive: true, force: true });
});

async function start(): Promise<ServerProcess> {
  const s = await startServer(env);
  servers.push(s);
  return s;
}

async function subscribe(server: ServerProcess, lastEventId?: string): Promise<SseReader> {
  const res = await fetch(`${server.url}/v1/enforcement/events`, {
    headers: {
      authorization: `Bearer ${secret("checker")}`,
      ...(lastEventId === undefined ? {} : { "last-event-id": lastEventId }),
    },
  });
  expect(res.status).toBe(200);
  const reader = new SseReader(res);
  readers.push(reader);
  return reader;
}

async function approved(server: ServerProcess, meetingId: string): Promise<string> {
  const created = await api(
    server,
    "POST",
    "/v1/orders",
    "responder",
    orderInput({ target: { kind: "meeting", meetingIds: [meetingId] } }),
  );
  await api(server, "POST", `/v1/orders/${created.body.id}/approve`, "approver", {});
  return created.body.id;
}

it("ends open streams on shutdown, and resumes after a restart with the journal's sequence", async () => {
  const first = await start();
  const reader = await subscribe(first);
  const o1 = await approved(first, "emb-1");
  await reader.waitFor(1);
  expect(reader.events[0]?.id).toBe("1");
  // A graceful stop with the subscriber connected: the stream ends, the process exits.
  const stopped = Date.now();
  await first.stop("SIGTERM");
  expect(Date.now() - stopped).toBeLessThan(5000);
  await new Promise((r) => setTimeout(r, 100));
  expect(reader.done).toBe(true);

  const second = await start();
  const o2 = await approved(second, "emb-2");
  await api(second, "POST", `/v1/orders/${o1}/withdraw`, "responder", {});
  const resumed = await subscribe(second, "1");
  await resumed.waitFor(2);
  expect(resumed.events.map((e) => [e.id, e.event, JSON.parse(e.data).orderId])).toEqual([
    ["2", "block-effective", o2],
    ["3", "block-lifted", o1],
  ]);
}, 60_000);
