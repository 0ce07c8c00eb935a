/**
 * A Server-Sent Events reader for tests: parses the `text/event-stream` body of a response (in process
 * or over HTTP) into events, as EventSource would, keeping comment lines (heartbeats) apart.
 */

export interface SseEvent {
  id?: string;
  event?: string;
  data: string;
  /** performance.now() when it was parsed (the benchmark's latency). */
  receivedAt: number;
}

export class SseReader {
  readonly events: SseEvent[] = [];
  comments = 0;
  private buffer = "";
  private readonly reader: ReadableStreamDefaultReader<Uint8Array>;
  private readonly decoder = new TextDecoder();
  private ended = false;
  private waiters: (() => void)[] = [];
  private readonly pump: Promise<void>;

  constructor(readonly response: Response) {
    if (!response.body) throw new Error(`no body (status ${response.status})`);
    this.reader = response.body.getReader();
    this.pump = this.read();
  }

  /** Waits until `n` events have arrived in all (not comments); fails after `timeoutMs`. */
  async waitFor(n: number, timeoutMs = 5000): Promise<SseEvent[]> {
    const deadline = Date.now() + timeoutMs;
    while (this.events.length < n) {
      if (this.ended) throw new Error(`stream ended after ${this.events.length} of ${n} events`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`${this.events.length} of ${n} events after ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    return this.events.slice(0, n);
  }

  /** The parsed `data:` of the events, as JSON. */
  data(): any[] {
    return this.events.filter((e) => e.id !== undefined).map((e) => JSON.parse(e.data));
  }

  async close(): Promise<void> {
    await this.reader.cancel().catch(() => undefined);
    await this.pump.catch(() => undefined);
  }

  get done(): boolean {
    return this.ended;
  }

  private async read(): Promise<void> {
    try {
      for (;;) {
        const { done, value } = await this.reader.read();
        if (done) break;
        this.buffer += this.decoder.decode(value, { stream: true });
        for (let end = this.buffer.indexOf("\n\n"); end !== -1; end = this.buffer.indexOf("\n\n")) {
          const block = this.buffer.slice(0, end);
          this.buffer = this.buffer.slice(end + 2);
          this.parse(block);
        }
        this.wake();
      }
    } finally {
      this.ended = true;
      this.wake();
    }
  }

  private parse(block: string): void {
    const event: SseEvent = { data: "", receivedAt: performance.now() };
    const data: string[] = [];
    let comment = true;
    for (const line of block.split("\n")) {
      if (line.startsWith(":")) continue;
      comment = false;
      const colon = line.indexOf(":");
      const name = colon === -1 ? line : line.slice(0, colon);
      const value = colon === -1 ? "" : line.slice(colon + 1).replace(/^ /, "");
      if (name === "data") data.push(value);
      else if (name === "id") event.id = value;
      else if (name === "event") event.event = value;
    }
    if (comment) {
      this.comments++;
      return;
    }
    event.data = data.join("\n");
    this.events.push(event);
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }
}
