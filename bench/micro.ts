/**
 * Micro benchmarks of the check path outside HTTP, in one process:
 * - `decide` on rulesets of 0, 100 and 10 000 approved meeting orders, for facts that hit (BLOCKED),
 *   miss (NO_ORDER) and fall outside (OUTSIDE_JURISDICTION);
 * - the geo chain on the bundled GeoLite2 country database: `parseIp`, a lookup without the L1 cache
 *   (MaxmindGeo, record cache on as in production) and a CachedGeo hit, over 10 000 public addresses;
 * - `evaluate` (geo + decide + record + HMAC) and its parts.
 *
 * Run: `npx tsx bench/micro.ts [--quick]`. Writes bench/results/micro.json.
 */
import { createHmac, createSecretKey, randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { cpus } from "node:os";
import { fileURLToPath } from "node:url";
import {
  allCountries,
  type CheckFacts,
  type CompiledOrder,
  compile,
  decide,
  type GeoLocation,
  lineage,
  type Order,
  type Ruleset,
  subdivisionsOf,
} from "../src/engine/index.js";
import { CachedGeo } from "../src/geo/cached-geo.js";
import { ipPrefix, isPublicIp, parseIp } from "../src/geo/ip.js";
import { MaxmindGeo } from "../src/geo/maxmind-geo.js";
import { defaultDatabasePath } from "../src/platform/node/geo-file.js";
import { ipHasher } from "../src/runtime/node/secrets.js";
import { type CheckInput, evaluate } from "../src/service/check.js";
import { prng } from "../test/support/prng.js";
import {
  consume,
  costRatio,
  machineNote,
  resultRows,
  runSuite,
  type SuiteOptions,
  type TaskResult,
  table,
  writeJson,
} from "./lib.js";

/** The in-memory geo chain answers synchronously; a promise here would mean the bench measures the wrong path. */
function evaluateSync(...args: Parameters<typeof evaluate>) {
  const result = evaluate(...args);
  if (result instanceof Promise) throw new Error("evaluate went async: the geo chain is not in memory");
  return result;
}

const RESULTS = fileURLToPath(new URL("./results/micro.json", import.meta.url));
const NOW = Date.parse("2026-06-01T00:00:00Z");
const POOL = 1024; // inputs per fact kind, rotated with `i & MASK`
const MASK = POOL - 1;

// ---------- rulesets ----------

const COUNTRIES = [...allCountries().keys()].sort();

/** Order `i`: meeting-targeted, a country, one subdivision, or two subdivisions; one in ten shadow. */
function benchOrder(i: number): Order {
  const country = COUNTRIES[i % COUNTRIES.length] as string;
  const subs = subdivisionsOf(country);
  const shape = i % 3;
  const jurisdictions =
    shape === 0 || subs.length === 0
      ? [country]
      : shape === 1 || subs.length === 1
        ? [subs[i % subs.length] as string]
        : [subs[i % subs.length] as string, subs[(i + 1) % subs.length] as string];
  const meetingIds = Array.from({ length: 1 + (i % 3) }, (_, k) => `8${String(i).padStart(6, "0")}${k}`);
  return {
    id: `ord_${String(i).padStart(6, "0")}`,
    reference: `BENCH/${i}`,
    authority: { name: "Bench authority", jurisdiction: country, kind: "court" },
    jurisdictions,
    target: { kind: "meeting", meetingIds },
    receivedAt: "2026-01-01T00:00:00Z",
    ...(i % 7 === 0 ? { effectiveUntil: "2030-01-01T00:00:00Z" } : {}),
    mode: i % 10 === 9 ? "shadow" : "enforce",
    status: "approved",
    enforcement: "active",
    createdBy: "responder-1",
    createdAt: "2026-01-01T00:00:00Z",
    decidedBy: "approver-1",
    decidedAt: "2026-01-02T00:00:00Z",
  };
}

function ruleset(n: number): Ruleset {
  const rs = compile(
    Array.from({ length: n }, (_, i) => benchOrder(i)),
    { version: n, compiledAt: new Date(NOW).toISOString() },
  );
  if (rs.orders.length !== n) throw new Error(`ruleset of ${n}: ${rs.excluded.length} orders excluded`);
  return rs;
}

/** A location inside jurisdiction `j`: its country and, for a subdivision, its lineage largest first. */
function locationIn(j: string): GeoLocation {
  const line = lineage(j);
  const country = line[line.length - 1] as string;
  return { country, subdivisions: line.slice(0, -1).reverse() };
}

function otherCountry(country: string): string {
  return country === "NL" ? "DE" : "NL";
}

interface FactSets {
  hit: CheckFacts[];
  /** Hits on the same 90 orders whatever the ruleset's size: the same working set, to isolate lookup cost. */
  hitHot: CheckFacts[];
  miss: CheckFacts[];
  outside: CheckFacts[];
}

function factsFor(rs: Ruleset, rand: () => number): FactSets {
  const enforcing = rs.orders.filter((o) => o.mode === "enforce");
  const hit: CheckFacts[] = [];
  const outside: CheckFacts[] = [];
  const miss: CheckFacts[] = [];
  const hitHot: CheckFacts[] = [];
  const hot = enforcing.slice(0, 90);
  for (let k = 0; k < POOL; k++) {
    const country = COUNTRIES[Math.floor(rand() * COUNTRIES.length)] as string;
    miss.push({ meetingId: `9${String(k).padStart(10, "0")}`, location: { country, subdivisions: [] } });
    const order = enforcing[Math.floor(rand() * enforcing.length)];
    if (!order) continue;
    const meetingId = order.meetingIds[k % order.meetingIds.length] as string;
    const j = order.jurisdictions[k % order.jurisdictions.length] as string;
    hit.push({ meetingId, location: locationIn(j) });
    outside.push({ meetingId, location: { country: otherCountry(order.authority), subdivisions: [] } });
    const h = hot[k % hot.length] as (typeof hot)[number];
    hitHot.push({ meetingId: h.meetingIds[0] as string, location: locationIn(h.jurisdictions[0] as string) });
  }
  return { hit, hitHot, miss, outside };
}

/** Checks every fact gives the expected code, so the benchmark measures what its name says. */
function expectCodes(rs: Ruleset, facts: readonly CheckFacts[], code: string, label: string): void {
  for (const f of facts) {
    const got = decide(rs, f, NOW).code;
    if (got !== code) throw new Error(`${label}: expected ${code}, got ${got} for ${JSON.stringify(f)}`);
  }
}

// ---------- addresses ----------

/** Allocated IPv6 /16s of the five registries (the rest of 2000::/3 is mostly empty space). */
const V6_PREFIXES = [
  0x2400, 0x2401, 0x2404, 0x2405, 0x2600, 0x2601, 0x2604, 0x2800, 0x2a00, 0x2a01, 0x2a02, 0x2c0f,
];

export function publicAddresses(count: number, rand: () => number): string[] {
  const out: string[] = [];
  const u16 = () => Math.floor(rand() * 0x10000);
  while (out.length < count) {
    let text: string;
    if (out.length % 2 === 0) {
      const n = Math.floor(rand() * 2 ** 32);
      text = `${n >>> 24}.${(n >>> 16) & 0xff}.${(n >>> 8) & 0xff}.${n & 0xff}`;
    } else {
      const p = V6_PREFIXES[Math.floor(rand() * V6_PREFIXES.length)] as number;
      const groups = [p, u16() & 0x0fff, u16(), u16(), u16(), u16(), u16(), u16()];
      text = groups.map((g) => g.toString(16)).join(":");
    }
    const parsed = parseIp(text);
    if (parsed && isPublicIp(parsed.ip)) out.push(parsed.ip);
  }
  return out;
}

// ---------- main ----------

export interface MicroReport {
  date: string;
  node: string;
  cpu: string;
  machine: string;
  options: SuiteOptions;
  decide: { results: TaskResult[]; ratios: Record<string, number> };
  geo: { results: TaskResult[]; ratios: Record<string, number>; addresses: number; found: number };
  evaluate: {
    results: TaskResult[];
    ratios: Record<string, number>;
    codes: Record<string, number>;
  };
}

export function runMicro(options: SuiteOptions = {}): MicroReport {
  const rand = prng(0xc0d0);
  console.log("micro: building rulesets of 0, 100, 10 000 orders...");
  const rulesets = { 0: ruleset(0), 100: ruleset(100), 10000: ruleset(10_000) } as const;
  const facts = {
    0: factsFor(rulesets[0], rand),
    100: factsFor(rulesets[100], rand),
    10000: factsFor(rulesets[10000], rand),
  };
  // The empty ruleset has nothing to hit: its "hit" and "outside" facts are the 10k ruleset's, giving NO_ORDER.
  facts[0].hit = facts[10000].hit;
  facts[0].hitHot = facts[10000].hitHot;
  facts[0].outside = facts[10000].outside;
  for (const n of [100, 10000] as const) {
    expectCodes(rulesets[n], facts[n].hit, "BLOCKED", `decide ${n} hit`);
    expectCodes(rulesets[n], facts[n].hitHot, "BLOCKED", `decide ${n} hit-hot`);
    expectCodes(rulesets[n], facts[n].outside, "OUTSIDE_JURISDICTION", `decide ${n} outside`);
    expectCodes(rulesets[n], facts[n].miss, "NO_ORDER", `decide ${n} miss`);
  }
  expectCodes(rulesets[0], facts[0].hit, "NO_ORDER", "decide 0 (10k hit facts)");

  const decideTasks = ([0, 100, 10000] as const).flatMap((n) =>
    (n === 0 ? (["miss"] as const) : (["miss", "hit", "hitHot", "outside"] as const)).map((kind) => {
      const rs = rulesets[n];
      const set = facts[n][kind];
      const label = kind === "hitHot" ? "hit, 90 hot orders" : kind;
      return {
        name: `decide ${n} orders / ${label}`,
        fn: (i: number) => decide(rs, set[i & MASK] as CheckFacts, NOW),
      };
    }),
  );
  console.log("micro: decide...");
  const decideResults = runSuite(decideTasks, options);
  const decideRatios = {
    "decide 10k/0 orders, miss (cost ratio)": costRatio(
      decideResults,
      "decide 10000 orders / miss",
      "decide 0 orders / miss",
    ),
    "decide 100/0 orders, miss (cost ratio)": costRatio(
      decideResults,
      "decide 100 orders / miss",
      "decide 0 orders / miss",
    ),
    "decide 10k/100 orders, hit (cost ratio)": costRatio(
      decideResults,
      "decide 10000 orders / hit",
      "decide 100 orders / hit",
    ),
    "decide 10k/100 orders, hit on 90 hot orders (cost ratio)": costRatio(
      decideResults,
      "decide 10000 orders / hit, 90 hot orders",
      "decide 100 orders / hit, 90 hot orders",
    ),
    "decide 10k/100 orders, outside (cost ratio)": costRatio(
      decideResults,
      "decide 10000 orders / outside",
      "decide 100 orders / outside",
    ),
  };
  console.log(`${table(resultRows(decideResults))}\n`);

  // ---- geo ----
  const dbPath = defaultDatabasePath();
  const bytes = readFileSync(dbPath);
  const maxmind = MaxmindGeo.fromBuffer(bytes, dbPath);
  const cached = new CachedGeo(MaxmindGeo.fromBuffer(bytes, dbPath), { max: 100_000 });
  const addresses = publicAddresses(10_000, rand);
  const found = addresses.filter((ip) => maxmind.lookup(ip).location !== null).length;
  for (const ip of addresses) cached.lookup(ip); // every later cached lookup is a hit
  const AMASK = 8191; // rotate over the first 8192 addresses (a power of two keeps the index cheap)
  // Even indexes are IPv4, odd ones IPv6 (see publicAddresses).
  const v4 = addresses.filter((_, k) => k % 2 === 0);
  const v6 = addresses.filter((_, k) => k % 2 === 1);
  const HMASK = 4095;
  const geoTasks = [
    { name: "parseIp", fn: (i: number) => parseIp(addresses[i & AMASK] as string) },
    { name: "parseIp, IPv4", fn: (i: number) => parseIp(v4[i & HMASK] as string) },
    { name: "parseIp, IPv6", fn: (i: number) => parseIp(v6[i & HMASK] as string) },
    { name: "isPublicIp", fn: (i: number) => isPublicIp(addresses[i & AMASK] as string) },
    { name: "ipPrefix, IPv4", fn: (i: number) => ipPrefix(v4[i & HMASK] as string) },
    { name: "ipPrefix, IPv6", fn: (i: number) => ipPrefix(v6[i & HMASK] as string) },
    {
      name: "geo lookup, no L1 (MaxmindGeo)",
      fn: (i: number) => maxmind.lookup(addresses[i & AMASK] as string),
    },
    { name: "geo lookup, no L1, IPv4", fn: (i: number) => maxmind.lookup(v4[i & HMASK] as string) },
    { name: "geo lookup, no L1, IPv6", fn: (i: number) => maxmind.lookup(v6[i & HMASK] as string) },
    {
      name: "geo lookup, L1 hit (CachedGeo)",
      fn: (i: number) => cached.lookup(addresses[i & AMASK] as string),
    },
  ];
  console.log(`micro: geo chain (${addresses.length} addresses, ${found} located)...`);
  const geoResults = runSuite(geoTasks, options);
  const geoRatios = {
    "geo no-L1 / L1 hit (cost ratio)": costRatio(
      geoResults,
      "geo lookup, no L1 (MaxmindGeo)",
      "geo lookup, L1 hit (CachedGeo)",
    ),
    "parseIp / L1 hit (cost ratio)": costRatio(geoResults, "parseIp", "geo lookup, L1 hit (CachedGeo)"),
  };
  console.log(`${table(resultRows(geoResults))}\n`);

  // ---- evaluate ----
  const key = Buffer.alloc(32, 7);
  const hashIp = ipHasher(key);
  const deps = { geo: cached, hashIp, newId: randomUUID };
  const depsNoL1 = { geo: maxmind, hashIp, newId: randomUUID };
  const rs = rulesets[10000];
  // Country-level enforcing orders by country: one in twenty checks is for such a meeting from inside it.
  const countryOrder = new Map<string, string>();
  for (const o of rs.orders)
    if (o.mode === "enforce" && o.jurisdictions.length === 1 && o.jurisdictions[0] === o.authority)
      if (!countryOrder.has(o.authority)) countryOrder.set(o.authority, o.meetingIds[0] as string);
  const inputs: CheckInput[] = addresses.slice(0, 8192).map((ip, k) => {
    const country = maxmind.lookup(ip).location?.country;
    const blocked = country === undefined ? undefined : countryOrder.get(country);
    if (k % 20 === 0 && blocked) return { meetingId: blocked, ip };
    if (k % 20 === 1)
      return { meetingId: (rs.orders[k % rs.orders.length] as CompiledOrder).meetingIds[0] as string, ip };
    return {
      meetingId: `9${String(k).padStart(10, "0")}`,
      ip,
      ...(k % 4 === 3 ? { accountId: `acct_${k}` } : {}),
    };
  });
  const codes: Record<string, number> = {};
  for (const input of inputs) {
    const code = evaluateSync(deps, rs, input, NOW, "en").decision.code;
    codes[code] = (codes[code] ?? 0) + 1;
  }
  const records = inputs.map((input) => evaluateSync(deps, rs, input, NOW, "en").record);
  const locations = inputs.map((input) => cached.lookup(input.ip as string).location);
  const IMASK = 8191;
  const evaluateTasks = [
    {
      name: "evaluate (L1 hit)",
      fn: (i: number) => evaluateSync(deps, rs, inputs[i & IMASK] as CheckInput, NOW, "en"),
    },
    {
      name: "evaluate (no L1)",
      fn: (i: number) => evaluateSync(depsNoL1, rs, inputs[i & IMASK] as CheckInput, NOW, "en"),
    },
    {
      name: "evaluate + JSON.stringify(record)",
      fn: (i: number) =>
        JSON.stringify(evaluateSync(deps, rs, inputs[i & IMASK] as CheckInput, NOW, "en").record),
    },
    {
      name: "  part: decide only",
      fn: (i: number) => {
        const input = inputs[i & IMASK] as CheckInput;
        return decide(
          rs,
          { meetingId: input.meetingId, accountId: input.accountId, location: locations[i & IMASK] ?? null },
          NOW,
        );
      },
    },
    {
      name: "  part: hashIp (createHmac)",
      fn: (i: number) => hashIp((inputs[i & IMASK] as { ip: string }).ip),
    },
    {
      name: "  part: hmac, reused key object",
      fn: (() => {
        // What a KeyObject-based hasher would cost: same HMAC, the key imported once.
        const keyObject = createSecretKey(key);
        return (i: number) =>
          createHmac("sha256", keyObject)
            .update((inputs[i & IMASK] as { ip: string }).ip)
            .digest("hex");
      })(),
    },
    { name: "  part: ipPrefix", fn: (i: number) => ipPrefix((inputs[i & IMASK] as { ip: string }).ip) },
    { name: "  part: randomUUID", fn: () => randomUUID() },
    { name: "  part: toISOString", fn: (i: number) => new Date(NOW + i).toISOString() },
    { name: "  part: JSON.stringify(record)", fn: (i: number) => JSON.stringify(records[i & IMASK]) },
  ];
  console.log(`micro: evaluate (10k-order ruleset, codes ${JSON.stringify(codes)})...`);
  const evaluateResults = runSuite(evaluateTasks, options);
  const evaluateRatios = {
    "evaluate / decide only (cost ratio)": costRatio(
      evaluateResults,
      "evaluate (L1 hit)",
      "  part: decide only",
    ),
    "evaluate no-L1 / L1 hit (cost ratio)": costRatio(
      evaluateResults,
      "evaluate (no L1)",
      "evaluate (L1 hit)",
    ),
    "hashIp / evaluate (cost share)": costRatio(
      evaluateResults,
      "  part: hashIp (createHmac)",
      "evaluate (L1 hit)",
    ),
  };
  console.log(`${table(resultRows(evaluateResults))}\n`);

  const ratioRows = [
    ["ratio", "value"],
    ...Object.entries({ ...decideRatios, ...geoRatios, ...evaluateRatios }).map(([k, v]) => [
      k,
      `${v.toFixed(2)}x`,
    ]),
  ];
  console.log(`${table(ratioRows)}\n`);
  consume(records);

  const report: MicroReport = {
    date: new Date().toISOString(),
    node: process.version,
    cpu: `${cpus().length} x ${cpus()[0]?.model ?? "unknown"}`,
    machine: machineNote(),
    options,
    decide: { results: decideResults, ratios: decideRatios },
    geo: { results: geoResults, ratios: geoRatios, addresses: addresses.length, found },
    evaluate: { results: evaluateResults, ratios: evaluateRatios, codes },
  };
  writeJson(RESULTS, report);
  console.log(`micro: wrote ${RESULTS}`);
  return report;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const quick = process.argv.includes("--quick");
  runMicro(quick ? { warmupMs: 100, rounds: 3, roundMs: 60 } : { warmupMs: 300, rounds: 9, roundMs: 120 });
}
