/**
 * The HTTP contract only grows: every operation and every named schema of the OpenAPI document that
 * 0.1.0 published (`test/fixtures/openapi-0.1.0.json`) is still served, unchanged; new ones may be added.
 * A change DESIGN.md makes on purpose updates that file in the same commit, so the change is visible.
 */
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Harness, makeHarness } from "../support/harness.js";

const BEFORE = JSON.parse(readFileSync(new URL("../fixtures/openapi-0.1.0.json", import.meta.url), "utf8"));

let h: Harness;
let now: typeof BEFORE;
beforeAll(async () => {
  h = await makeHarness();
  now = (await h.call("GET", "/openapi.json")).body;
});
afterAll(() => h.close());

describe("the OpenAPI document", () => {
  const operations = Object.entries<Record<string, unknown>>(BEFORE.paths).flatMap(([path, ops]) =>
    Object.keys(ops).map((method) => ({ path, method })),
  );

  it("had operations to compare", () => {
    expect(operations.length).toBeGreaterThan(15);
  });

  it.each(operations)("still serves $method $path as before", ({ path, method }) => {
    const before = BEFORE.paths[path][method];
    const { operationId, ...served } = now.paths[path]?.[method] ?? {};
    // Documentation added since 0.1.0 (the linted document): an operation id, and `security: []` stated on
    // a route that took no token then either. Everything else is as it was.
    expect(operationId).toMatch(/^[a-z][A-Za-z0-9]+$/);
    if (before.security === undefined) {
      expect(served.security).toEqual([]);
      delete served.security;
    }
    if (before.description === undefined) delete served.description;
    expect(served).toEqual(before);
  });

  it.each(Object.keys(BEFORE.components.schemas))("keeps the schema %s as before", (name) => {
    expect(now.components.schemas[name]).toEqual(BEFORE.components.schemas[name]);
  });

  it("keeps the security scheme and the document's version", () => {
    expect(now.components.securitySchemes).toEqual(BEFORE.components.securitySchemes);
    expect(now.openapi).toBe(BEFORE.openapi);
  });
});
