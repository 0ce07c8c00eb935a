/**
 * An open-model load (as wrk2 or k6's constant-arrival-rate): requests leave at a fixed rate whatever
 * the server does, and each one's latency runs from when it was due, not from when it was sent, so a
 * stall is charged to every request it delays (no coordinated omission). Bodies come from a file of
 * JSON lines (bench/check-speed.ts writes it), POSTed in order and round again.
 *
 * Run: `node --import tsx bench/open-load.ts --url=http://127.0.0.1:PORT/v1/check --token=... \
 *   --lines=FILE --rate=5000 --seconds=10 [--warmup=2]`; prints one JSON object on stdout.
 */

import { readFileSync } from "node:fs";
import { Agent, request } from "node:http";

const arg = (name: string, fallback?: string): string => {
  const found = process.argv.find((a) => a.startsWith(`--${name}=`));
  const value = found ? found.slice(name.length + 3) : fallback;
  if (value === undefined) throw new Error(`--${name} is required`);
  return value;
};

const url = new URL(arg("url"));
const token = arg("token");
const bodies = readFileSync(arg("lines"), "utf8").split("\n").filter(Boolean);
const rate = Number(arg("rate", "5000"));
const seconds = Number(arg("seconds", "10"));
const warmup = Number(arg("warmup", "2"));

// Connections enough that a request never waits for one while the server keeps up (rate × latency).
const agent = new Agent({ keepAlive: true, maxSockets: 256 });

const latencies: number[] = [];
/** How late the generator itself sent each measured request (a starved generator shows here, not the server). */
const sendLags: number[] = [];
let errors = 0;
let non2xx = 0;
let sent = 0;
let done = 0;

function send(due: number, record: boolean): void {
  if (record) sendLags.push(performance.now() - due);
  const body = bodies[sent++ % bodies.length] as string;
  const req = request(
    {
      agent,
      host: url.hostname,
      port: url.port,
      path: url.pathname,
      method: "POST",
      headers: {
        "content-type": "application/json",
        "content-length": Buffer.byteLength(body),
        authorization: `Bearer ${token}`,
      },
    },
    (res) => {
      res.resume();
      res.on("end", () => {
        done++;
        if (!record) return;
        if (res.statusCode !== 200) non2xx++;
        latencies.push(performance.now() - due);
      });
    },
  );
  req.on("error", () => {
    done++;
    if (record) errors++;
  });
  req.end(body);
}

async function main(): Promise<void> {
  const interval = 1000 / rate;
  const start = performance.now();
  const warmEnd = start + warmup * 1000;
  const end = warmEnd + seconds * 1000;
  let next = start;
  // Pacing by polling the clock between I/O callbacks: a timer's millisecond granularity would send
  // in bursts and charge its own lateness to the server.
  await new Promise<void>((finished) => {
    const tick = () => {
      const now = performance.now();
      while (next <= now && next < end) {
        send(next, next >= warmEnd);
        next += interval;
      }
      if (next >= end) finished();
      else setImmediate(tick);
    };
    tick();
  });
  const drainBy = performance.now() + 10_000;
  while (done < sent && performance.now() < drainBy) await new Promise((r) => setTimeout(r, 10));
  agent.destroy();
  latencies.sort((a, b) => a - b);
  sendLags.sort((a, b) => a - b);
  const lagAt = (q: number) =>
    sendLags[Math.min(sendLags.length - 1, Math.floor(q * sendLags.length))] ?? NaN;
  const at = (q: number) =>
    latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? NaN;
  const measured = latencies.length + errors;
  process.stdout.write(
    `${JSON.stringify({
      rate,
      seconds,
      sent: measured,
      achievedRate: measured / seconds,
      answered: latencies.length,
      errors,
      non2xx,
      unanswered: sent - done,
      sendLagMs: { p50: lagAt(0.5), p99: lagAt(0.99), max: sendLags.at(-1) ?? NaN },
      latencyMs: { p50: at(0.5), p90: at(0.9), p99: at(0.99), p999: at(0.999), max: latencies.at(-1) ?? NaN },
    })}\n`,
  );
}

await main();
