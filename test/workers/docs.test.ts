/**
 * The Worker serves no API reference: `GET /docs` at the edge is a 404 that names the Node service,
 * while the edge still documents its own routes at /openapi.json.
 */
import { exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";

describe("GET /docs in the Worker", () => {
  it("answers 404 with the error envelope, pointing to the Node service", async () => {
    const res = await exports.default.fetch("https://edge.test/docs");
    expect(res.status).toBe(404);
    const body = (await res.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe("NOT_FOUND");
    expect(body.error.message).toContain("Node service");
    expect(body.error.message).toContain("/openapi.json");
    const doc = await exports.default.fetch("https://edge.test/openapi.json");
    expect(doc.status).toBe(200);
    // The first fetch starts the Worker (its bundled database): slow on a loaded machine.
  }, 60_000);
});
