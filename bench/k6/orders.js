// k6 load test for the response team's order life cycle: create (responder), approve (approver: a second
// principal, four eyes), then withdraw (responder) so the ruleset does not grow without bound.
//
//   k6 run -e BASE_URL=http://127.0.0.1:8787 -e CORDON_TOKEN=<responder token> \
//          -e CORDON_APPROVER_TOKEN=<approver token> bench/k6/orders.js
//
// Every change is fdatasynced with its audit entry and recompiles the ruleset, so this is a write-path
// test: VUS (default 2) loops for DURATION (default 30s). WITHDRAW=0 keeps the approved orders.
// Thresholds: no failed request, every step answered as documented, p99 per step < STEP_P99_MS (100).
import { check, fail } from "k6";
import http from "k6/http";

const BASE_URL = (__ENV.BASE_URL || "http://127.0.0.1:8787").replace(/\/$/, "");
const RESPONDER = __ENV.CORDON_TOKEN || "";
const APPROVER = __ENV.CORDON_APPROVER_TOKEN || "";
const WITHDRAW = __ENV.WITHDRAW !== "0";
const STEP_P99_MS = Number(__ENV.STEP_P99_MS || 100);

export const options = {
  scenarios: {
    orders: {
      executor: "constant-vus",
      vus: Number(__ENV.VUS || 2),
      duration: __ENV.DURATION || "30s",
    },
  },
  thresholds: {
    http_req_failed: ["rate==0"],
    checks: ["rate==1"],
    "http_req_duration{step:create}": [`p(99)<${STEP_P99_MS}`],
    "http_req_duration{step:approve}": [`p(99)<${STEP_P99_MS}`],
    "http_req_duration{step:withdraw}": [`p(99)<${STEP_P99_MS}`],
  },
  summaryTrendStats: ["avg", "med", "p(90)", "p(99)", "max"],
};

export function setup() {
  if (!RESPONDER || !APPROVER) fail("set CORDON_TOKEN (responder) and CORDON_APPROVER_TOKEN (approver)");
}

const params = (token, step) => ({
  headers: { "Content-Type": "application/json", Authorization: `Bearer ${token}` },
  tags: { step },
});

const SHAPES = [
  { authority: { name: "Roskomnadzor", jurisdiction: "RU", kind: "regulator" }, jurisdictions: ["RU"] },
  { authority: { name: "Bombay High Court", jurisdiction: "IN", kind: "court" }, jurisdictions: ["IN-MH"] },
  { authority: { name: "Landgericht Berlin", jurisdiction: "DE", kind: "court" }, jurisdictions: ["DE-BE"] },
];

export default function () {
  const shape = SHAPES[__ITER % SHAPES.length];
  const id = `${__VU}${String(__ITER).padStart(8, "0")}`;
  const input = {
    reference: `K6/${__VU}/${__ITER}`,
    authority: shape.authority,
    jurisdictions: shape.jurisdictions,
    target: { kind: "meeting", meetingIds: [`7${id.padStart(10, "0")}`] },
    receivedAt: new Date().toISOString(),
    accountType: "business",
    accountLocation: "US",
  };
  const created = http.post(`${BASE_URL}/v1/orders`, JSON.stringify(input), params(RESPONDER, "create"));
  const ok = check(created, {
    "create: 201": (r) => r.status === 201,
    "create: pending": (r) => r.status === 201 && r.json("status") === "pending",
  });
  if (!ok) return;
  const orderId = created.json("id");

  const approved = http.post(
    `${BASE_URL}/v1/orders/${orderId}/approve`,
    JSON.stringify({ note: "k6" }),
    params(APPROVER, "approve"),
  );
  check(approved, {
    "approve: 200": (r) => r.status === 200,
    "approve: approved": (r) => r.status === 200 && r.json("status") === "approved",
  });

  if (!WITHDRAW) return;
  const withdrawn = http.post(
    `${BASE_URL}/v1/orders/${orderId}/withdraw`,
    JSON.stringify({ reason: "k6 clean-up" }),
    params(RESPONDER, "withdraw"),
  );
  check(withdrawn, {
    "withdraw: 200": (r) => r.status === 200,
    "withdraw: withdrawn": (r) => r.status === 200 && r.json("status") === "withdrawn",
  });
}
