/**
 * What sealing a record's `ipHash` under its half-year's key (I6) adds to a check: `evaluate` with the
 * key ring's `hashIp` (two HMACs, the keys imported once) against `evaluate` with the single HMAC that
 * 0.1.0 wrote, interleaved in one process. `npx tsx bench/ip-hash.ts [--quick]`.
 */
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { emptyRuleset } from "../src/engine/index.js";
import { CachedGeo } from "../src/geo/cached-geo.js";
import { MaxmindGeo } from "../src/geo/maxmind-geo.js";
import { SILENT_LOGGER } from "../src/kernel/logger.js";
import { defaultDatabasePath } from "../src/platform/node/geo-file.js";
import { IpHashKeyRing } from "../src/runtime/node/ip-hash-ring.js";
import { ipHasher } from "../src/runtime/node/secrets.js";
import { type CheckInput, evaluate } from "../src/service/check.js";
import { FileIpHashKeyStore } from "../src/store/file/ip-hash-keys.js";
import { prng } from "../test/support/prng.js";
import { costRatio, resultRows, runSuite, table } from "./lib.js";
import { publicAddresses } from "./micro.js";

const NOW = Date.parse("2026-06-01T00:00:00Z");
const quick = process.argv.includes("--quick");
const options = quick
  ? { warmupMs: 100, rounds: 3, roundMs: 60 }
  : { warmupMs: 300, rounds: 9, roundMs: 120 };

const dir = await mkdtemp(join(tmpdir(), "cordon-bench-keys-"));
const master = Buffer.alloc(32, 7);
const ring = await IpHashKeyRing.open({
  store: await FileIpHashKeyStore.open(join(dir, "keys")),
  masterKey: master,
  clock: () => NOW,
  logger: SILENT_LOGGER,
});
const bytes = readFileSync(defaultDatabasePath());
const geo = new CachedGeo(MaxmindGeo.fromBuffer(bytes, "bundled"), { max: 100_000 });
const inputs: CheckInput[] = publicAddresses(8192, prng(42)).map((ip, k) => ({ meetingId: `m-${k}`, ip }));
const rs = emptyRuleset(new Date(NOW).toISOString());
const single = ipHasher(master);
const deps = { geo, newId: randomUUID };
const plain = { ...deps, hashIp: (ip: string) => single(ip) };
const sealed = { ...deps, hashIp: (ip: string, at: number) => ring.hashIp(ip, at) };
for (const input of inputs)
  if (evaluate(sealed, rs, input, NOW, "en") instanceof Promise) throw new Error("async");

const M = 8191;
const results = runSuite(
  [
    {
      name: "evaluate, 0.1.0 hash (one HMAC)",
      fn: (i: number) => evaluate(plain, rs, inputs[i & M] as CheckInput, NOW, "en"),
    },
    {
      name: "evaluate, sealed (ring)",
      fn: (i: number) => evaluate(sealed, rs, inputs[i & M] as CheckInput, NOW, "en"),
    },
    { name: "  hashIp, 0.1.0 (one HMAC)", fn: (i: number) => single((inputs[i & M] as { ip: string }).ip) },
    {
      name: "  hashIp, sealed (ring)",
      fn: (i: number) => ring.hashIp((inputs[i & M] as { ip: string }).ip, NOW),
    },
  ],
  options,
);
console.log(table(resultRows(results)));
console.log(
  table([
    ["ratio", "value"],
    [
      "evaluate sealed / 0.1.0 (cost ratio)",
      `${costRatio(results, "evaluate, sealed (ring)", "evaluate, 0.1.0 hash (one HMAC)").toFixed(2)}x`,
    ],
    [
      "hashIp sealed / 0.1.0 (cost ratio)",
      `${costRatio(results, "  hashIp, sealed (ring)", "  hashIp, 0.1.0 (one HMAC)").toFixed(2)}x`,
    ],
  ]),
);
ring.stop();
await rm(dir, { recursive: true, force: true });
