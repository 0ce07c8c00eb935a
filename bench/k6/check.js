// k6 load test for the meeting-join check (k6 is not needed for `npm run bench`; see bench/README.md).
//
//   k6 run -e BASE_URL=http://127.0.0.1:8787 -e CORDON_TOKEN=<checker token> bench/k6/check.js
//
// Scenarios, run together:
//   check  POST /v1/check at RATE requests/s (default 5000) for DURATION (default 30s): an open-model
//          load (constant arrival rate), as bench/check-speed.ts's, with the same objective;
//   batch  POST /v1/check/batch with BATCH_SIZE checks (default 500) at BATCH_RATE calls/s (default 0:
//          off; -e BATCH_RATE=2 adds webinar openings to the joins).
// Thresholds: check p99 < 2 ms (CHECK_P99_MS), batch p99 < 250 ms (BATCH_P99_MS), no failed request,
// every answer a well-formed decision. Seed orders first (rules/examples, or bench/k6/orders.js) so
// that some checks are BLOCKED or OUTSIDE_JURISDICTION; most are NO_ORDER, as in production.
import { check } from "k6";
import http from "k6/http";

const BASE_URL = (__ENV.BASE_URL || "http://127.0.0.1:8787").replace(/\/$/, "");
const TOKEN = __ENV.CORDON_TOKEN || "";
const DURATION = __ENV.DURATION || "30s";
const RATE = Number(__ENV.RATE || 5000);
const BATCH_RATE = Number(__ENV.BATCH_RATE || 0);
const BATCH_SIZE = Math.min(1000, Number(__ENV.BATCH_SIZE || 500));
const CHECK_P99_MS = Number(__ENV.CHECK_P99_MS || 2);
const BATCH_P99_MS = Number(__ENV.BATCH_P99_MS || 250);

export const options = {
  scenarios: {
    check: {
      executor: "constant-arrival-rate",
      exec: "single",
      rate: RATE,
      timeUnit: "1s",
      duration: DURATION,
      // Enough VUs that none is short while the server keeps up (rate × latency, with room for stalls).
      preAllocatedVUs: Math.max(50, Math.ceil(RATE / 50)),
      maxVUs: Math.max(400, Math.ceil(RATE / 5)),
    },
    ...(BATCH_RATE > 0
      ? {
          batch: {
            executor: "constant-arrival-rate",
            exec: "batch",
            rate: BATCH_RATE,
            timeUnit: "1s",
            duration: DURATION,
            preAllocatedVUs: 4,
            maxVUs: 40,
          },
        }
      : {}),
  },
  thresholds: {
    "http_req_duration{scenario:check}": [`p(99)<${CHECK_P99_MS}`],
    ...(BATCH_RATE > 0 ? { "http_req_duration{scenario:batch}": [`p(99)<${BATCH_P99_MS}`] } : {}),
    http_req_failed: ["rate==0"],
    checks: ["rate==1"],
  },
  summaryTrendStats: ["avg", "med", "p(90)", "p(99)", "max"],
};

const PARAMS = {
  headers: { "Content-Type": "application/json", Authorization: `Bearer ${TOKEN}` },
};

// Deterministic inputs (an LCG seeded per VU), public addresses only, as bench/wrk/check.lua.
let seed = 20261122 + (typeof __VU === "number" ? __VU : 0) * 7919;
function rnd(n) {
  seed = (1664525 * seed + 1013904223) % 4294967296;
  return Math.floor((seed / 4294967296) * n);
}
const EXCLUDED = [10, 100, 127, 169, 172, 192, 198, 203];
const FIRSTS = [];
for (let a = 1; a <= 223; a++) if (!EXCLUDED.includes(a)) FIRSTS.push(a);
const V6 = ["2a00:1450", "2400:cb00", "2604:a880", "2a03:2880", "2a01:4f8", "2600:1f18"];
const hex = () => rnd(65536).toString(16);

function ipv4() {
  return `${FIRSTS[rnd(FIRSTS.length)]}.${rnd(256)}.${rnd(256)}.${rnd(254) + 1}`;
}
function ipv6(prefix) {
  return `${prefix}:${hex()}:${hex()}:${hex()}:${hex()}:${hex()}:${(rnd(65535) + 1).toString(16)}`;
}
function publicIp() {
  return rnd(5) === 0 ? ipv6(V6[rnd(V6.length)]) : ipv4();
}

function oneCheck() {
  const m = rnd(16);
  if (m === 0)
    return { meetingId: "95500112233", ip: rnd(2) === 0 ? `5.8.${rnd(256)}.${rnd(254) + 1}` : publicIp() };
  if (m === 1)
    return { meetingId: "81234567890", ip: rnd(2) === 0 ? `49.36.${rnd(256)}.${rnd(254) + 1}` : publicIp() };
  const body = { meetingId: `9${String(rnd(1e9)).padStart(10, "0")}`, ip: publicIp() };
  if (rnd(8) === 0) body.accountId = `acct_${rnd(1e6)}`;
  return body;
}

const DECISION_CODES = ["NO_ORDER", "OUTSIDE_JURISDICTION", "GEO_UNKNOWN", "SHADOW_MATCH", "BLOCKED"];

export function single() {
  const res = http.post(`${BASE_URL}/v1/check`, JSON.stringify(oneCheck()), PARAMS);
  check(res, {
    "check: 200": (r) => r.status === 200,
    "check: a decision": (r) => r.status === 200 && DECISION_CODES.includes(r.json("code")),
  });
}

export function batch() {
  const checks = [];
  for (let k = 0; k < BATCH_SIZE; k++) checks.push(oneCheck());
  const res = http.post(`${BASE_URL}/v1/check/batch`, JSON.stringify({ checks }), PARAMS);
  check(res, {
    "batch: 200": (r) => r.status === 200,
    "batch: one decision per check": (r) => r.status === 200 && r.json("results.#") === BATCH_SIZE,
  });
}
