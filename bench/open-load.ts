/**
 * An open-model load (as wrk2 or k6's constant-arrival-rate): requests leave at a fixed rate whatever
 * the server does, and each one's latency runs from when it was due, not from when it was sent, so a
 * stall is charged to every request it delays (no coordinated omission). Bodies come from a file of
 * JSON lines (bench/check-speed.ts writes it), POSTed in order and round again.
 *
 * The generator must cost far less than the server, or its own lateness is what gets measured (with
 * node:http and an Agent it managed 1,545 of 5,000 requests/s on a busy core). So it speaks HTTP/1.1
 * on raw sockets: each request is a buffer built once, written on an idle keep-alive connection (one
 * request in flight per connection, as browsers and wrk do), and a response is read only as far as its
 * status, Content-Length (or the end of a chunked body) needs. Its own send lag is reported beside the
 * latencies: when it is not small against them, the run says nothing about the server.
 *
 * Run: `node --import tsx bench/open-load.ts --url=http://127.0.0.1:PORT/v1/check --token=... \
 *   --lines=FILE --rate=5000 --seconds=10 [--warmup=2]`; prints one JSON object on stdout.
 */

import { readFileSync } from "node:fs";
import { connect, type Socket } from "node:net";

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
/** Connections opened at most (rate × latency in flight at once; more only while the server lags). */
const maxConnections = Number(arg("connections", "256"));

/** Every request, built once: a body's whole HTTP/1.1 request. */
const requests = bodies.map((body) =>
  Buffer.from(
    `POST ${url.pathname}${url.search} HTTP/1.1\r\nHost: ${url.host}\r\nContent-Type: application/json\r\n` +
      `Authorization: Bearer ${token}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  ),
);

const latencies: number[] = [];
/** How late the generator itself sent each measured request (a starved generator shows here, not the server). */
const sendLags: number[] = [];
let errors = 0;
let non2xx = 0;
let sent = 0;
let done = 0;

interface Pending {
  due: number;
  record: boolean;
}

/** One keep-alive connection with at most one request in flight. */
class Connection {
  readonly socket: Socket;
  pending: Pending | undefined;
  private buffer: Buffer = Buffer.alloc(0);
  private closed = false;

  constructor(
    private readonly onIdle: (c: Connection) => void,
    private readonly onClose: (c: Connection) => void,
  ) {
    this.socket = connect({ host: url.hostname, port: Number(url.port), noDelay: true });
    this.socket.on("data", (chunk: Buffer) => this.read(chunk));
    this.socket.on("error", () => this.close());
    this.socket.on("close", () => this.close());
  }

  send(request: Buffer, pending: Pending): void {
    this.pending = pending;
    this.socket.write(request);
  }

  private read(chunk: Buffer): void {
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    for (;;) {
      const headEnd = this.buffer.indexOf("\r\n\r\n");
      if (headEnd < 0) return;
      const head = this.buffer.toString("latin1", 0, headEnd);
      const status = Number(head.slice(9, 12));
      const length = /\r\ncontent-length:\s*(\d+)/i.exec(head);
      let end: number;
      if (length) {
        end = headEnd + 4 + Number(length[1]);
        if (this.buffer.length < end) return;
      } else if (/\r\ntransfer-encoding:\s*chunked/i.test(head)) {
        const last = this.buffer.indexOf("\r\n0\r\n\r\n", headEnd + 4 - 2);
        if (last < 0) return;
        end = last + 7;
      } else {
        end = headEnd + 4;
      }
      this.buffer = this.buffer.subarray(end);
      this.answered(status);
    }
  }

  private answered(status: number): void {
    const pending = this.pending;
    this.pending = undefined;
    done++;
    if (pending?.record) {
      if (status !== 200) non2xx++;
      latencies.push(performance.now() - pending.due);
    }
    this.onIdle(this);
  }

  private close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.pending) {
      done++;
      if (this.pending.record) errors++;
      this.pending = undefined;
    }
    this.onClose(this);
  }
}

const idle: Connection[] = [];
const all = new Set<Connection>();
/** Requests due while every connection was busy: sent, oldest first, as connections come free. */
const waiting: Pending[] = [];

function dispatch(c: Connection): void {
  const next = waiting.shift();
  if (next) write(c, next);
  else idle.push(c);
}

function write(c: Connection, pending: Pending): void {
  c.send(requests[sent++ % requests.length] as Buffer, pending);
}

function open(): Connection {
  const c = new Connection(dispatch, (gone) => {
    all.delete(gone);
    const at = idle.indexOf(gone);
    if (at >= 0) idle.splice(at, 1);
  });
  all.add(c);
  return c;
}

function send(due: number, record: boolean): void {
  // The generator's own lateness only: a request then waiting for a free connection is the server's.
  if (record) sendLags.push(performance.now() - due);
  const pending = { due, record };
  const c = idle.pop() ?? (all.size < maxConnections ? open() : undefined);
  if (c) write(c, pending);
  else waiting.push(pending);
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
  while ((done < sent || waiting.length > 0) && performance.now() < drainBy)
    await new Promise((r) => setTimeout(r, 10));
  for (const c of all) c.socket.destroy();
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
      unanswered: sent - done + waiting.length,
      connections: all.size,
      sendLagMs: { p50: lagAt(0.5), p99: lagAt(0.99), max: sendLags.at(-1) ?? NaN },
      latencyMs: { p50: at(0.5), p90: at(0.9), p99: at(0.99), p999: at(0.999), max: latencies.at(-1) ?? NaN },
    })}\n`,
  );
}

await main();
