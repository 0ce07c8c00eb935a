/**
 * GeoIP hot reload through the real server: the database file at CORDON_GEOIP_DB is replaced (new file
 * renamed over it, as a database updater does) while checks are running. No check fails, and checks
 * after the swap answer from the new database, with no restart.
 */
import { mkdtemp, rename, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { cityRecord, writeMmdb } from "../support/mmdb-writer.js";
import { api, type ServerProcess, startServer, TOKENS, withToken } from "../support/server.js";

let dir: string;
let server: ServerProcess;

const database = (country: string, subdivision: string, epoch: number) =>
  writeMmdb({
    databaseType: "GeoIP2-City",
    ipVersion: 6,
    buildEpoch: epoch,
    networks: [{ cidr: "49.32.0.0/16", data: cityRecord({ country, subdivisions: [subdivision] }) }],
  });

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "cordon-reload-"));
  await writeFile(join(dir, "City.mmdb"), database("IN", "IN-MH", Date.UTC(2026, 9, 1) / 1000));
  server = await startServer({
    CORDON_DATA_DIR: join(dir, "data"),
    CORDON_GEOIP_DB: join(dir, "City.mmdb"),
    CORDON_TOKENS: Object.values(TOKENS).join(","),
  });
});
afterAll(async () => {
  await server.stop();
  await rm(dir, { recursive: true, force: true });
});

it("swaps in a replaced database while checks run, failing none", async () => {
  const seen = new Map<string, number>();
  const failures: unknown[] = [];
  let sawNew = false;
  let swapped = false;
  const caller = async () => {
    // Bounded: stops once the new database answered after the swap, or after 20 s.
    const deadline = Date.now() + 20_000;
    while (!(swapped && sawNew) && Date.now() < deadline) {
      const res = await api(server, "POST", "/v1/check", "checker", { meetingId: "m", ip: "49.32.1.1" });
      if (res.status !== 200) failures.push(res);
      const where = `${res.body.geo?.country}/${res.body.geo?.subdivision}`;
      seen.set(where, (seen.get(where) ?? 0) + 1);
      if (swapped && where === "NL/NL-NH") sawNew = true;
    }
  };
  const callers = Array.from({ length: 4 }, caller);
  await new Promise((r) => setTimeout(r, 300));
  const next = join(dir, "City.mmdb.new");
  await writeFile(next, database("NL", "NL-NH", Date.UTC(2026, 10, 1) / 1000));
  await rename(next, join(dir, "City.mmdb"));
  swapped = true;
  await Promise.all(callers);

  expect(failures).toEqual([]);
  expect(sawNew).toBe(true);
  // Every answer came whole from one database or the other: never unknown, never a mix.
  expect([...seen.keys()].sort()).toEqual(["IN/IN-MH", "NL/NL-NH"]);
  const ready = await (await fetch(`${server.url}/readyz`, withToken("checker"))).json();
  expect(ready.geo.buildDate).toBe("2026-11-01T00:00:00.000Z");
});
