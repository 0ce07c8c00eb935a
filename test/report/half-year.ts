/**
 * A held-out half-year (2026-H1) for the report, small enough to count by hand: every number the tests
 * expect of it is written out in `HAND_COUNTED`, counted from the list below, never from the code.
 *
 * Orders (authority jurisdiction: block, outcome):
 * - ru-1   RU: RU, complied (meeting m-ru); 20 denied joins by 14 participants, then 2 removed from
 *          the meeting in progress (one of them new: 15 distinct participants)
 * - ru-2   RU: RU, shadow (meeting m-ru2); 6 shadow matches by 4 participants, none denied
 * - in-1   IN: IN, complied; 3 denied joins (one participant in IN-MH, counted under IN-MH)
 * - mh-1   IN-MH: IN-MH, partially complied (asked IN-MH and IN-KA); 2 denied joins
 * - mh-2   IN-MH: rejected, no_such_target
 * - in-2   IN: rejected, legally_invalid
 * - de-1   DE: withdrawn before a decision
 * - de-2   DE: approved for two accounts, then amended to one: one request, partially complied (the
 *          engine keeps what was first asked as `requested` when an amendment narrows the grant)
 * - fr-1   FR: pending at the period's end
 * - gp-1   FR: blocks Guadeloupe (GP, an integral territory): rolls up under France
 * - eng-1  GB-ENG: blocks Kent (GB-KEN): rolls up under the United Kingdom; its meeting's host was
 *          checked in the Netherlands (hosted outside)
 * Host checks: mh-1's meeting was hosted inside Maharashtra (the host's account exempt: EXEMPT, not a
 * denial); eng-1's outside.
 */
import type { DecisionRecord, Order } from "../../src/engine/index.js";
import {
  createOrder,
  decideAmendment,
  OrderInput,
  proposeAmendment,
  transition,
} from "../../src/engine/index.js";
import { accumulate } from "../../src/report/accumulate.js";
import { emptyMonth } from "../../src/report/aggregate-store.js";
import { buildReport } from "../../src/report/build.js";
import type { MonthAggregate, Report } from "../../src/report/model.js";
import { monthOf, parsePeriod } from "../../src/report/periods.js";

export const H1 = parsePeriod("2026-H1") as NonNullable<ReturnType<typeof parsePeriod>>;

function order(
  id: string,
  input: Record<string, unknown>,
  steps: ((o: Order) => Order)[],
  received = "2026-02-01T09:00:00Z",
): Order {
  let o = createOrder(
    OrderInput.parse({
      reference: `REF/${id}`,
      target: { kind: "meeting", meetingIds: [`m-${id}`] },
      receivedAt: received,
      accountType: "pro",
      accountLocation: "NL",
      ...input,
    }),
    { id, actor: "responder-1", at: received },
  );
  for (const step of steps) o = step(o);
  return o;
}
const approve = (at: string) => (o: Order) => transition(o, { type: "approve" }, "approver-1", at);
const reject = (at: string, reasonCode: string) => (o: Order) =>
  transition(o, { type: "reject", reason: "see code", reasonCode } as never, "approver-1", at);
const amend = (at: string, changes: Record<string, unknown>) => (o: Order) =>
  decideAmendment(
    proposeAmendment(
      o,
      { changes: changes as never, reason: "narrowed by the authority" },
      "responder-1",
      at,
    ),
    "amd_1",
    { type: "approve" },
    "approver-2",
    at,
  );
const withdraw = (at: string) => (o: Order) => transition(o, { type: "withdraw" }, "responder-1", at);

const court = (jurisdiction: string) => ({ name: `Court ${jurisdiction}`, jurisdiction, kind: "court" });

export const ORDERS: Order[] = [
  order("ru-1", { authority: court("RU"), jurisdictions: ["RU"] }, [approve("2026-02-02T10:00:00Z")]),
  order("ru-2", { authority: court("RU"), jurisdictions: ["RU"], mode: "shadow", accountType: "phone" }, [
    approve("2026-02-03T10:00:00Z"),
  ]),
  order("in-1", { authority: court("IN"), jurisdictions: ["IN"], accountType: "enterprise" }, [
    approve("2026-03-01T10:00:00Z"),
  ]),
  order(
    "mh-1",
    {
      authority: { name: "Bombay High Court", jurisdiction: "IN-MH", kind: "court" },
      jurisdictions: ["IN-MH"],
      requested: { jurisdictions: ["IN-MH", "IN-KA"] },
      accountLocation: "IN",
    },
    [approve("2026-03-02T10:00:00Z")],
  ),
  // An integral territory: a French court blocks Guadeloupe, which sources report as the country GP.
  order("gp-1", { authority: court("FR"), jurisdictions: ["GP"] }, [approve("2026-03-05T10:00:00Z")]),
  // A GB region inside its constituent country: an English court blocks Kent.
  order("eng-1", { authority: court("GB-ENG"), jurisdictions: ["GB-KEN"] }, [
    approve("2026-03-06T10:00:00Z"),
  ]),
  order(
    "mh-2",
    {
      authority: { name: "Bombay High Court", jurisdiction: "IN-MH", kind: "court" },
      jurisdictions: ["IN-MH"],
    },
    [reject("2026-04-01T10:00:00Z", "no_such_target")],
  ),
  order(
    "in-2",
    { authority: { name: "Ministry", jurisdiction: "IN", kind: "agency" }, jurisdictions: ["IN"] },
    [reject("2026-04-02T10:00:00Z", "legally_invalid")],
  ),
  order("de-1", { authority: court("DE"), jurisdictions: ["DE"] }, [withdraw("2026-05-01T10:00:00Z")]),
  order(
    "de-2",
    {
      authority: { name: "Polizei", jurisdiction: "DE", kind: "police" },
      jurisdictions: ["DE"],
      target: { kind: "account", accountIds: ["acc-1", "acc-2"] },
    },
    // Amended after approval (narrowed to one account): it keeps its id and stays one request.
    [
      approve("2026-05-02T10:00:00Z"),
      amend("2026-05-10T10:00:00Z", { target: { kind: "account", accountIds: ["acc-1"] } }),
    ],
  ),
  order("fr-1", { authority: court("FR"), jurisdictions: ["FR"] }, [], "2026-06-20T09:00:00Z"),
];

let n = 0;
function rec(overrides: Partial<DecisionRecord>): DecisionRecord {
  n += 1;
  return {
    decisionId: `dec-${String(n).padStart(4, "0")}`,
    at: "2026-03-10T10:00:00.000Z",
    phase: "join",
    role: "participant",
    meetingId: "m-ru-1",
    decision: "deny",
    code: "BLOCKED",
    orderIds: ["ru-1"],
    jurisdiction: "RU",
    country: "RU",
    subdivision: null,
    ipPrefix: "95.24.0.0/24",
    ipHash: "p0",
    rulesetVersion: 1,
    geoSource: "mmdb",
    geoDbVersion: "fixture",
    ...overrides,
  } as DecisionRecord;
}

export const RECORDS: DecisionRecord[] = [
  // ru-1: 20 denied joins by 14 participants (p0..p13; p0..p5 twice).
  ...Array.from({ length: 20 }, (_, i) =>
    rec({ ipHash: `p${i % 14}`, at: `2026-03-${10 + (i % 5)}T10:00:00.000Z` }),
  ),
  // ru-2 (shadow): 6 matches by 4 other participants (s0..s3), let in.
  ...Array.from({ length: 6 }, (_, i) =>
    rec({
      decision: "allow",
      code: "SHADOW_MATCH",
      orderIds: ["ru-2"],
      meetingId: "m-ru-2",
      ipHash: `s${i % 4}`,
    }),
  ),
  // in-1: 3 denied joins by one participant located in IN-MH (the matched block is IN).
  ...Array.from({ length: 3 }, () =>
    rec({
      orderIds: ["in-1"],
      meetingId: "m-in-1",
      jurisdiction: "IN",
      country: "IN",
      subdivision: "IN-MH",
      ipHash: "i0",
    }),
  ),
  // mh-1: 2 denied joins by two participants.
  rec({
    orderIds: ["mh-1"],
    meetingId: "m-mh-1",
    jurisdiction: "IN-MH",
    country: "IN",
    subdivision: "IN-MH",
    ipHash: "m0",
  }),
  rec({
    orderIds: ["mh-1"],
    meetingId: "m-mh-1",
    jurisdiction: "IN-MH",
    country: "IN",
    subdivision: "IN-MH",
    ipHash: "m1",
  }),
  // gp-1: 2 denied joins by two participants in Guadeloupe.
  rec({ orderIds: ["gp-1"], meetingId: "m-gp-1", jurisdiction: "GP", country: "GP", ipHash: "g0" }),
  rec({ orderIds: ["gp-1"], meetingId: "m-gp-1", jurisdiction: "GP", country: "GP", ipHash: "g1" }),
  // eng-1: 1 denied join in Kent.
  rec({
    orderIds: ["eng-1"],
    meetingId: "m-eng-1",
    jurisdiction: "GB-KEN",
    country: "GB",
    subdivision: "GB-KEN",
    ipHash: "k0",
  }),
  // ru-1: 2 removed from the meeting in progress (p0, denied at a join before, and p14, new).
  rec({ phase: "in_meeting", ipHash: "p0", at: "2026-03-15T10:00:00.000Z" }),
  rec({ phase: "in_meeting", ipHash: "p14", at: "2026-03-15T10:00:00.000Z" }),
  // Hosts: mh-1's meeting hosted inside (an exempt host, let in), eng-1's hosted outside.
  rec({
    role: "host",
    decision: "allow",
    code: "EXEMPT",
    orderIds: ["mh-1"],
    meetingId: "m-mh-1",
    jurisdiction: "IN-MH",
    country: "IN",
    subdivision: "IN-MH",
    accountId: "acct-host",
    ipHash: "h0",
  }),
  rec({
    role: "host",
    decision: "allow",
    code: "OUTSIDE_JURISDICTION",
    orderIds: ["eng-1"],
    meetingId: "m-eng-1",
    jurisdiction: null,
    country: "NL",
    ipHash: "h1",
  }),
  // Not counted: an allow.
  rec({ decision: "allow", code: "NO_ORDER", orderIds: [], jurisdiction: null, ipHash: "x" }),
];

export function months(): MonthAggregate[] {
  const byMonth = new Map(H1.months.map((m) => [m, emptyMonth(m)]));
  for (const r of RECORDS) accumulate(byMonth.get(monthOf(Date.parse(r.at))) as MonthAggregate, r);
  return [...byMonth.values()];
}

export function halfYear(threshold = 0): Report {
  const m = months();
  return buildReport({
    period: H1,
    orders: ORDERS,
    months: m,
    history: m,
    threshold,
    generatedAt: "2026-07-20T08:00:00Z",
  });
}

const zero = { complied: 0, partially_complied: 0, shadow: 0, rejected: 0, withdrawn: 0 };

/** Counted by hand from the lists above. */
export const HAND_COUNTED = {
  total: 10,
  byJurisdiction: {
    DE: { ...zero, partially_complied: 1, withdrawn: 1 },
    FR: { ...zero, complied: 1 },
    "GB-ENG": { ...zero, complied: 1 },
    IN: { ...zero, complied: 1, rejected: 1 },
    "IN-MH": { ...zero, partially_complied: 1, rejected: 1 },
    RU: { ...zero, complied: 1, shadow: 1 },
  },
  byCountry: {
    DE: { ...zero, partially_complied: 1, withdrawn: 1 },
    FR: { ...zero, complied: 1 },
    GB: { ...zero, complied: 1 },
    IN: { ...zero, complied: 1, partially_complied: 1, rejected: 2 },
    RU: { ...zero, complied: 1, shadow: 1 },
  },
  byReason: {
    invalid_service: 0,
    legally_invalid: 1,
    outside_jurisdiction: 0,
    insufficient_information: 0,
    no_such_target: 1,
    other: 0,
  },
  pending: 1,
  enforcement: {
    RU: {
      deniedJoins: 20,
      removedParticipants: 2,
      shadowMatches: 6,
      distinctMeetings: 1,
      distinctParticipants: 15,
    },
    GP: {
      deniedJoins: 2,
      removedParticipants: 0,
      shadowMatches: 0,
      distinctMeetings: 1,
      distinctParticipants: 2,
    },
    "GB-KEN": {
      deniedJoins: 1,
      removedParticipants: 0,
      shadowMatches: 0,
      distinctMeetings: 1,
      distinctParticipants: 1,
    },
    IN: {
      deniedJoins: 3,
      removedParticipants: 0,
      shadowMatches: 0,
      distinctMeetings: 1,
      distinctParticipants: 1,
    },
    "IN-MH": {
      deniedJoins: 2,
      removedParticipants: 0,
      shadowMatches: 0,
      distinctMeetings: 1,
      distinctParticipants: 2,
    },
  },
  enforcementByCountry: {
    RU: {
      deniedJoins: 20,
      removedParticipants: 2,
      shadowMatches: 6,
      distinctMeetings: 1,
      distinctParticipants: 15,
    },
    FR: {
      deniedJoins: 2,
      removedParticipants: 0,
      shadowMatches: 0,
      distinctMeetings: 1,
      distinctParticipants: 2,
    },
    GB: {
      deniedJoins: 1,
      removedParticipants: 0,
      shadowMatches: 0,
      distinctMeetings: 1,
      distinctParticipants: 1,
    },
    IN: {
      deniedJoins: 5,
      removedParticipants: 0,
      shadowMatches: 0,
      distinctMeetings: 2,
      distinctParticipants: 3,
    },
  },
  /** Where the orders' meetings were hosted, from host checks (only orders with one). */
  hosted: {
    "mh-1": { meetingsHostedInside: 1, meetingsHostedOutside: 0 },
    "eng-1": { meetingsHostedInside: 0, meetingsHostedOutside: 1 },
  },
  csv: [
    "period,authority_jurisdiction,authority_kind,target_kind,requested_jurisdictions,block_jurisdictions,outcome,reason_code,account_type,account_location,received_date,completed_date,denied_joins,removed_participants",
    "2026-H1,RU,court,meeting,RU,RU,complied,,pro,NL,2026-02-01,2026-02-02,20,2",
    "2026-H1,RU,court,meeting,RU,RU,shadow,,phone,NL,2026-02-01,2026-02-03,0,0",
    "2026-H1,IN,court,meeting,IN,IN,complied,,enterprise,NL,2026-02-01,2026-03-01,3,0",
    "2026-H1,IN-MH,court,meeting,IN-MH;IN-KA,IN-MH,partially_complied,,pro,IN,2026-02-01,2026-03-02,2,0",
    "2026-H1,FR,court,meeting,GP,GP,complied,,pro,NL,2026-02-01,2026-03-05,2,0",
    "2026-H1,GB-ENG,court,meeting,GB-KEN,GB-KEN,complied,,pro,NL,2026-02-01,2026-03-06,1,0",
    "2026-H1,IN-MH,court,meeting,IN-MH,IN-MH,rejected,no_such_target,pro,NL,2026-02-01,2026-04-01,0,0",
    "2026-H1,IN,agency,meeting,IN,IN,rejected,legally_invalid,pro,NL,2026-02-01,2026-04-02,0,0",
    "2026-H1,DE,court,meeting,DE,DE,withdrawn,,pro,NL,2026-02-01,2026-05-01,0,0",
    "2026-H1,DE,police,account,DE,DE,partially_complied,,pro,NL,2026-02-01,2026-05-02,0,0",
  ],
};
