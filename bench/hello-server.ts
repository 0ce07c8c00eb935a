/**
 * The baselines for the HTTP benchmark: Hono on @hono/node-server, the same stack Cordon serves with.
 *   `get`:  GET / answers "Hello" (the issue's reference point);
 *   `post`: POST / parses the JSON body and echoes it (a fairer one: body read, JSON parse and stringify);
 *   `post-limit`: the same echo behind hono's `bodyLimit` middleware, as Cordon's /v1/* routes are. It
 *   reads `c.req.raw.body`, which makes @hono/node-server build a full web `Request` (headers, abort
 *   signal, ReadableStream) instead of reading the body straight from the IncomingMessage: this
 *   baseline prices that.
 * Run: `node --import tsx bench/hello-server.ts get|post|post-limit` with PORT (0: any free port), HOST.
 * Prints `{"message":"hello listening","mode":...,"port":N}` on stderr once listening.
 */
import { serve } from "@hono/node-server";
import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";

const arg = process.argv[2];
const mode = arg === "post" || arg === "post-limit" ? arg : "get";
const app = new Hono();
if (mode === "post-limit") app.use(bodyLimit({ maxSize: 64 * 1024 }));
if (mode === "get") app.get("/", (c) => c.text("Hello"));
else app.post("/", async (c) => c.json(await c.req.json()));

const server = serve(
  { fetch: app.fetch, port: Number(process.env.PORT ?? 0), hostname: process.env.HOST ?? "127.0.0.1" },
  (info) =>
    process.stderr.write(`${JSON.stringify({ message: "hello listening", mode, port: info.port })}\n`),
);

const stop = () => server.close(() => process.exit(0));
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
