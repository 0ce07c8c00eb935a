/**
 * The floor of a check's allocations (`alloc-per-check.ts --server=node-echo`): Node's own HTTP server
 * doing what Cordon's front does around a check and nothing else: the body read from its chunks, parsed
 * as JSON, and a JSON answer written with the same four headers. What it allocates a request is what
 * node:http costs before any of Cordon's work.
 * Run: `node --import tsx bench/node-echo.ts` with PORT, HOST.
 */
import { createServer } from "node:http";

const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on("data", (chunk: Buffer) => chunks.push(chunk));
  req.on("end", () => {
    let body = "{}";
    try {
      body = JSON.stringify(JSON.parse(Buffer.concat(chunks).toString("utf8") || "{}"));
    } catch {
      // not JSON: answered as {}
    }
    res.writeHead(200, [
      "content-type",
      "application/json",
      "cache-control",
      "no-store",
      "x-request-id",
      crypto.randomUUID(),
      "content-length",
      Buffer.byteLength(body),
    ]);
    res.end(body);
  });
});
server.listen(Number(process.env.PORT ?? 0), process.env.HOST ?? "127.0.0.1");
const stop = () => server.close(() => process.exit(0));
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
