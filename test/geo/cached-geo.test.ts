/**
 * `CachedGeo`, the in-process L1 in front of any source: hits and misses, what it keeps (answers a
 * database gave) and what not (private addresses, failures), LRU size, ttl, clear, and its metric.
 */
import { type Attributes, type Counter, createNoopMeter, type Meter, metrics } from "@opentelemetry/api";
import { afterEach, describe, expect, it } from "vitest";
import { CachedGeo } from "../../src/geo/cached-geo.js";
import type { Geo, GeoAnswer, GeoInfo } from "../../src/geo/interface.js";
import { MaxmindGeo } from "../../src/geo/maxmind-geo.js";
import { oneCountryDatabase } from "../support/fixtures.js";

/** A real MaxmindGeo that can be swapped, counting the lookups that reach it. */
class CountingGeo implements Geo {
  calls = 0;
  constructor(public geo: MaxmindGeo) {}
  lookup(ip: string): GeoAnswer {
    this.calls++;
    return this.geo.lookup(ip);
  }
  info(): GeoInfo {
    return this.geo.info();
  }
}

describe("CachedGeo", () => {
  it("answers a repeated address from the cache and counts hits and misses", () => {
    const inner = new CountingGeo(MaxmindGeo.fromBuffer(oneCountryDatabase("NL"), "nl"));
    const geo = new CachedGeo(inner, { max: 100 });
    const first = geo.lookup("1.2.3.4");
    expect(first.location).toEqual({ country: "NL", subdivisions: [] });
    expect(geo.lookup("1.2.3.4")).toBe(first);
    expect(geo.lookup("1.2.3.4")).toBe(first);
    geo.lookup("2001:4860::1");
    expect(inner.calls).toBe(2);
    expect(geo.stats()).toEqual({ hits: 2, misses: 2, size: 2 });
  });

  it("caches not-found answers, which a database gave", () => {
    const inner = new CountingGeo(MaxmindGeo.fromBuffer(oneCountryDatabase("NL"), "nl"));
    const geo = new CachedGeo(inner, { max: 100 });
    expect(geo.lookup("8.8.8.8").location).toBeNull();
    expect(geo.lookup("8.8.8.8").location).toBeNull();
    expect(inner.calls).toBe(1);
    expect(geo.stats()).toMatchObject({ hits: 1, misses: 1, size: 1 });
  });

  it("does not keep answers no database gave (private addresses, failures)", () => {
    const inner = new CountingGeo(MaxmindGeo.fromBuffer(oneCountryDatabase("NL"), "nl"));
    const geo = new CachedGeo(inner, { max: 100 });
    geo.lookup("10.0.0.1");
    geo.lookup("10.0.0.1");
    expect(inner.calls).toBe(2);
    expect(geo.stats()).toEqual({ hits: 0, misses: 2, size: 0 });
  });

  it("holds at most max answers, evicting the least recently used", () => {
    const inner = new CountingGeo(MaxmindGeo.fromBuffer(oneCountryDatabase("NL"), "nl"));
    const geo = new CachedGeo(inner, { max: 3 });
    for (let i = 0; i < 10; i++) geo.lookup(`5.6.0.${i}`);
    expect(geo.stats().size).toBe(3);
    geo.lookup("5.6.0.9"); // most recent: still there
    geo.lookup("5.6.0.0"); // evicted long ago
    expect(geo.stats()).toEqual({ hits: 1, misses: 11, size: 3 });
    expect(inner.calls).toBe(11);
  });

  it("forgets everything on clear, so a replaced database answers at once", () => {
    const inner = new CountingGeo(MaxmindGeo.fromBuffer(oneCountryDatabase("NL"), "nl"));
    const geo = new CachedGeo(inner, { max: 100 });
    expect(geo.lookup("1.2.3.4").location?.country).toBe("NL");
    inner.geo = MaxmindGeo.fromBuffer(oneCountryDatabase("DE"), "de");
    // Without clear the cache would keep answering from the old database.
    expect(geo.lookup("1.2.3.4").location?.country).toBe("NL");
    geo.clear();
    expect(geo.stats().size).toBe(0);
    expect(geo.lookup("1.2.3.4").location?.country).toBe("DE");
  });

  describe("with an OpenTelemetry meter provider registered", () => {
    afterEach(() => metrics.disable());

    it("counts cordon.geo.cache with result hit or miss", () => {
      const recorded: { name: string; value: number; attributes: Attributes | undefined }[] = [];
      // The smallest provider that records: a no-op meter whose counters write to an array.
      const meter: Meter = Object.assign(Object.create(createNoopMeter()) as Meter, {
        createCounter: (name: string): Counter => ({
          add: (value: number, attributes?: Attributes) => recorded.push({ name, value, attributes }),
        }),
      });
      metrics.setGlobalMeterProvider({ getMeter: () => meter });

      const geo = new CachedGeo(new CountingGeo(MaxmindGeo.fromBuffer(oneCountryDatabase("NL"), "nl")), {
        max: 10,
      });
      geo.lookup("1.2.3.4");
      geo.lookup("1.2.3.4");
      geo.lookup("1.2.3.4");
      expect(recorded).toEqual([
        { name: "cordon.geo.cache", value: 1, attributes: { result: "miss" } },
        { name: "cordon.geo.cache", value: 1, attributes: { result: "hit" } },
        { name: "cordon.geo.cache", value: 1, attributes: { result: "hit" } },
      ]);
    });
  });

  it("passes info through", () => {
    const inner = new CountingGeo(MaxmindGeo.fromBuffer(oneCountryDatabase("NL"), "nl"));
    expect(new CachedGeo(inner, { max: 1 }).info()).toEqual(inner.info());
  });

  it("refuses a size that is not a positive integer", () => {
    const inner = new CountingGeo(MaxmindGeo.fromBuffer(oneCountryDatabase("NL"), "nl"));
    expect(() => new CachedGeo(inner, { max: 0 })).toThrow(RangeError);
    expect(() => new CachedGeo(inner, { max: 1.5 })).toThrow(RangeError);
  });
});

describe("CachedGeo ttl", () => {
  it("forgets an answer after its ttl, so the source is asked again", async () => {
    let calls = 0;
    const source = {
      lookup: () => {
        calls++;
        return {
          location: { country: "NL", subdivisions: [] },
          source: "webservice" as const,
          dbVersion: "ws:1",
        };
      },
      info: () => null,
    };
    const cached = new CachedGeo(source, { max: 10, ttlMs: 50 });
    cached.lookup("2.56.10.20");
    cached.lookup("2.56.10.20");
    expect(calls).toBe(1);
    await new Promise((r) => setTimeout(r, 80));
    cached.lookup("2.56.10.20");
    expect(calls).toBe(2);
  });
});
