/**
 * `ReloadingGeo` over a real file: a database renamed over it or rewritten in place is picked up with no
 * lookup ever unknown in between, a broken or half-written one is refused while the one in use stays.
 */
import { existsSync, renameSync, writeFileSync } from "node:fs";
import { mkdtemp, open, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { CachedGeo } from "../../src/geo/cached-geo.js";
import type { GeoInfo, SyncGeo } from "../../src/geo/interface.js";
import { defaultDatabasePath, ReloadingGeo } from "../../src/platform/node/geo-file.js";
import { oneCountryDatabase } from "../support/fixtures.js";
import { rawLogger } from "../support/logs.js";
import { sleep, waitFor } from "../support/wait.js";

/**
 * Looks up continuously, one batch per event-loop turn (so file events and reloads interleave with
 * lookups the way they do under load), recording every answer.
 */
function hammer(geo: SyncGeo, ips: string[]) {
  const seen = new Map<string, number>();
  const failures: unknown[] = [];
  let lookups = 0;
  let last: string | null = null;
  let running = true;
  const loop = () => {
    if (!running) return;
    for (let i = 0; i < 50; i++) {
      const ip = ips[lookups % ips.length] as string;
      lookups++;
      try {
        const answer = geo.lookup(ip);
        last = answer.location?.country ?? "unknown";
        seen.set(last, (seen.get(last) ?? 0) + 1);
      } catch (error) {
        failures.push(error);
      }
    }
    setImmediate(loop);
  };
  setImmediate(loop);
  return {
    seen,
    failures,
    get lookups() {
      return lookups;
    },
    get last() {
      return last;
    },
    stop() {
      running = false;
    },
  };
}

describe("ReloadingGeo", () => {
  let dir: string;
  let path: string;
  let geo: ReloadingGeo | undefined;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "cordon-geo-"));
    path = join(dir, "geo.mmdb");
  });

  afterEach(async () => {
    geo?.close();
    geo = undefined;
    await rm(dir, { recursive: true, force: true });
  });

  it("swaps to a database atomically renamed over the file, with no lookup ever unknown", async () => {
    writeFileSync(path, oneCountryDatabase("NL", 2000));
    const reloads: GeoInfo[] = [];
    let cached: CachedGeo<ReloadingGeo> | undefined;
    geo = await ReloadingGeo.open(path, {
      pollMs: 0,
      onReload: (info) => {
        reloads.push(info);
        cached?.clear();
      },
    });
    cached = new CachedGeo(geo, { max: 1000 });
    expect(cached.lookup("1.2.3.4").location?.country).toBe("NL");

    const run = hammer(cached, ["1.2.3.4", "1.2.3.200", "2001:4860::1"]);
    await waitFor(() => run.lookups > 2000, "2000 lookups");
    // How geoipupdate and `mv` replace a file: write a temporary file, then rename it over the old one.
    writeFileSync(`${path}.tmp`, oneCountryDatabase("DE", 2000));
    renameSync(`${path}.tmp`, path);
    await waitFor(() => run.last === "DE", "lookups to answer DE");
    const settled = run.lookups;
    await waitFor(() => run.lookups > settled + 2000, "2000 more lookups");
    run.stop();

    expect(run.failures).toEqual([]);
    expect([...run.seen.keys()].sort()).toEqual(["DE", "NL"]);
    expect(run.lookups).toBeGreaterThan(4000);
    // Once DE, always DE: no lookup went back to the old database or its cached answers.
    expect(cached.lookup("1.2.3.4").location?.country).toBe("DE");
    expect(reloads).toHaveLength(1);
  });

  it("picks up a file rewritten in place, ignoring the half-written state", async () => {
    const { logger, lines } = rawLogger();
    writeFileSync(path, oneCountryDatabase("NL"));
    geo = await ReloadingGeo.open(path, { pollMs: 0, logger });
    const run = hammer(geo, ["1.2.3.4", "2001:4860::1"]);

    // Truncate and write half, then pause longer than the debounce, so a load sees the half file.
    const bytes = oneCountryDatabase("DE", 3000);
    const handle = await open(path, "r+");
    await handle.truncate(0);
    await handle.write(bytes, 0, bytes.length >> 1, 0);
    await handle.sync();
    await waitFor(() => lines.some((l) => l.level === "warn"), "a warning");
    expect(geo.lookup("1.2.3.4").location?.country).toBe("NL");
    await handle.write(bytes, bytes.length >> 1, bytes.length - (bytes.length >> 1), bytes.length >> 1);
    await handle.close();

    await waitFor(() => run.last === "DE", "lookups to answer DE");
    run.stop();
    expect(run.failures).toEqual([]);
    expect([...run.seen.keys()].sort()).toEqual(["DE", "NL"]);
    expect(lines.filter((l) => l.level === "info").map((l) => l.message)).toEqual(["geo database reloaded"]);
  });

  it("keeps the database in use when the new file is broken, and still reloads a later good one", async () => {
    const { logger, lines } = rawLogger();
    writeFileSync(path, oneCountryDatabase("NL"));
    geo = await ReloadingGeo.open(path, { pollMs: 0, logger });
    const run = hammer(geo, ["1.2.3.4"]);

    writeFileSync(`${path}.tmp`, "this is not a MaxMind database");
    renameSync(`${path}.tmp`, path);
    await waitFor(() => lines.some((l) => l.level === "warn"), "a warning");
    const warning = lines.find((l) => l.level === "warn");
    expect(warning?.message).toMatch(/keeping the one in use/);
    expect(warning?.fields).toMatchObject({ path, inUse: geo.dbVersion });
    const before = run.lookups;
    await waitFor(() => run.lookups > before + 1000, "1000 more lookups");
    expect(run.last).toBe("NL");

    writeFileSync(`${path}.tmp`, oneCountryDatabase("DE"));
    renameSync(`${path}.tmp`, path);
    await waitFor(() => run.last === "DE", "lookups to answer DE");
    run.stop();
    expect(run.failures).toEqual([]);
    expect([...run.seen.keys()].sort()).toEqual(["DE", "NL"]);
  });

  it("keeps the database in use when the new file is a truncated database", async () => {
    const { logger, lines } = rawLogger();
    writeFileSync(path, oneCountryDatabase("NL"));
    geo = await ReloadingGeo.open(path, { pollMs: 0, logger });
    const good = oneCountryDatabase("DE");
    writeFileSync(`${path}.tmp`, good.subarray(0, good.length - 100));
    renameSync(`${path}.tmp`, path);
    await waitFor(() => lines.some((l) => l.level === "warn"), "a warning");
    expect(geo.lookup("1.2.3.4").location?.country).toBe("NL");
  });

  it("ignores other files changing in the same directory", async () => {
    const { logger, lines } = rawLogger();
    writeFileSync(path, oneCountryDatabase("NL"));
    const reloads: GeoInfo[] = [];
    geo = await ReloadingGeo.open(path, { pollMs: 0, logger, onReload: (info) => reloads.push(info) });
    writeFileSync(join(dir, "other.txt"), "unrelated");
    writeFileSync(join(dir, "other.txt"), "unrelated, again");
    await sleep(400);
    expect(reloads).toEqual([]);
    expect(lines).toEqual([]);
  });

  it("stops watching on close", async () => {
    writeFileSync(path, oneCountryDatabase("NL"));
    geo = await ReloadingGeo.open(path, { pollMs: 0 });
    geo.close();
    writeFileSync(`${path}.tmp`, oneCountryDatabase("DE"));
    renameSync(`${path}.tmp`, path);
    await sleep(400);
    expect(geo.lookup("1.2.3.4").location?.country).toBe("NL");
  });

  it("refuses to open a file that is missing or not a database", async () => {
    await expect(ReloadingGeo.open(join(dir, "missing.mmdb"))).rejects.toThrow(/ENOENT/);
    writeFileSync(path, "junk");
    await expect(ReloadingGeo.open(path)).rejects.toThrow(/not a MaxMind database/);
  });

  it("opens the bundled database by default", async () => {
    expect(existsSync(defaultDatabasePath())).toBe(true);
    expect(defaultDatabasePath()).toMatch(/@ip-location-db\/geolite2-country-mmdb\/geolite2-country\.mmdb$/);
    geo = await ReloadingGeo.open(defaultDatabasePath());
    expect(geo.lookup("8.8.8.8").location?.country).toBe("US");
    expect(geo.info()).toMatchObject({ databaseType: "country ipvAll", source: defaultDatabasePath() });
  });
});
