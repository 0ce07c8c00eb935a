/** The example orders in rules/examples are valid inputs (the README tour posts them as they are). */
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { jurisdictionsOutsideAuthority, OrderInput } from "../src/engine/index.js";

const DIR = new URL("../rules/examples/", import.meta.url).pathname;

describe("rules/examples", async () => {
  const files = (await readdir(DIR)).filter((f) => f.endsWith(".json"));
  it("has examples", () => expect(files.length).toBeGreaterThanOrEqual(3));
  it.each(files)("%s is a valid order input inside its authority's jurisdiction", async (file) => {
    const input = OrderInput.parse(JSON.parse(await readFile(join(DIR, file), "utf8")));
    expect(jurisdictionsOutsideAuthority(input)).toEqual([]);
  });
});
