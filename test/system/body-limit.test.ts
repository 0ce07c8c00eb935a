/**
 * Body limits over real HTTP: a stated Content-Length above the limit is refused from the header alone,
 * and a chunked body (no length) is counted while it streams. Both get 413 in the error envelope.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { type ServerProcess, secret, startServer, TOKENS } from "../support/server.js";

let dir: string;
let server: ServerProcess;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "cordon-limit-"));
  server = await startServer({
    CORDON_DATA_DIR: join(dir, "data"),
    CORDON_TOKENS: Object.values(TOKENS).join(","),
  });
});
afterAll(async () => {
  await server.stop();
  await rm(dir, { recursive: true, force: true });
});

function post(path: string, chunks: string[], chunked: boolean): Promise<{ status: number; body: any }> {
  return new Promise((resolve, reject) => {
    const body = chunks.join("");
    const req = request(
      `${server.url}${path}`,
      {
        method: "POST",
        headers: {
          authorization: `Bearer ${secret("checker")}`,
          "content-type": "application/json",
          ...(chunked ? { "transfer-encoding": "chunked" } : { "content-length": Buffer.byteLength(body) }),
        },
      },
      (res) => {
        let text = "";
        res.setEncoding("utf8").on("data", (d: string) => {
          text += d;
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) }));
      },
    );
    req.on("error", reject);
    for (const chunk of chunks) req.write(chunk);
    req.end();
  });
}

const big = (size: number) => [`{"meetingId":"m","ip":"8.8.8.8","pad":"`, "x".repeat(size), `"}`];

it.each([false, true])("refuses a body over 64 KiB with 413 (chunked: %s)", async (chunked) => {
  const res = await post("/v1/check", big(64 * 1024), chunked);
  expect(res.status).toBe(413);
  expect(res.body.error.code).toBe("PAYLOAD_TOO_LARGE");
});

it.each([false, true])(
  "accepts a full batch of 1000 checks but not a body over 1 MiB (chunked: %s)",
  async (chunked) => {
    const check = JSON.stringify({ meetingId: "m", ip: "8.8.8.8" });
    const many = (n: number) => [`{"checks":[`, Array(n).fill(check).join(","), "]}"];
    const under = await post("/v1/check/batch", many(1000), chunked);
    expect(under.status).toBe(200);
    const over = await post(
      "/v1/check/batch",
      [`{"checks":[],"pad":"`, "x".repeat(1024 * 1024), `"}`],
      chunked,
    );
    expect(over.status).toBe(413);
  },
);

it("accepts a small body either way", async () => {
  for (const chunked of [false, true]) {
    const res = await post("/v1/check", [`{"meetingId":"m",`, `"ip":"8.8.8.8"}`], chunked);
    expect(res.status).toBe(200);
    expect(res.body.code).toBe("NO_ORDER");
  }
});
