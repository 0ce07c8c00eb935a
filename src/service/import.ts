/**
 * Backfill: an admin import of historical orders with their whole life cycle, from JSON Lines, so past
 * periods can be reported. Runtime-free (no `node:*`), shared by `POST /v1/admin/orders/import` and
 * `cordon import`.
 *
 * One line is one `ImportedOrder`: an order input as `POST /v1/orders` takes it, plus what happened to it:
 *
 *   {"reference":"WP/77/2025","authority":{"name":"Bombay High Court","jurisdiction":"IN","kind":"court"},
 *    "jurisdictions":["IN-MH"],"target":{"kind":"meeting","meetingIds":["81234567890"]},
 *    "receivedAt":"2025-02-03T09:00:00Z","createdAt":"2025-02-03T10:15:00Z","createdBy":"asha",
 *    "decision":{"status":"approved","at":"2025-02-04T08:30:00Z","by":"ravi","note":"scope checked"},
 *    "withdrawal":{"at":"2025-05-01T12:00:00Z","by":"asha","reason":"the court lifted it"}}
 *
 * (one physical line in the file). `decision` ({status: "rejected", at, by, reason} for a rejection) and
 * `withdrawal` are optional: a line without either is an order still pending.
 *
 * Every line is validated before anything is written, and one bad line refuses the whole import with
 * an issue per problem, so a file never reaches storage half-applied. The rules are those of a live order,
 * checked by the same engine functions (OrderInput, I1 in `createOrder`, four eyes and the legal
 * transitions in `transition`), plus what only a history needs: its instants in order and in the past.
 *
 * Audit honesty (I7): each step goes through `store.applyChange` with its historical time and actor, so
 * the chain records who did what when; every imported state carries `importedBy` (the admin), which is
 * hashed into its audit entry like any other field. The entries' seq order is the import's, not history's.
 * The importer counts as a party to the order: neither they nor its creator may approve or reject it
 * (engine/orders.ts), in the file or live.
 *
 * Two choices beyond the live rules:
 * - An import never puts a block in force. A line approved and neither ended (`effectiveUntil` passed)
 *   nor withdrawn lands `pending`, its stated approval kept as `importedApproval`: a live approver, neither
 *   its creator nor the importer, confirms it through the approve route. The order then keeps the
 *   historical `decidedBy`/`decidedAt` (the report counts it in the period it was decided) and records the
 *   live approval as `confirmation`. A block in force needs two live people; an import only asserts that
 *   two people were involved. History (received, created, decided, withdrawn) must lie in the past; the
 *   enforcement window may lie ahead.
 * - Idempotent and resumable: an order's id is derived from its identity (authority, case reference,
 *   receipt time), so re-importing a file skips what is there. An import cut short by a store failure is
 *   finished by running it again: an imported order that stopped at an earlier step of the same history
 *   gets its remaining steps. An order whose stored state departs from the file (changed since) is skipped.
 */
import { sha256 } from "@noble/hashes/sha2.js";
import { bytesToHex, utf8ToBytes } from "@noble/hashes/utils.js";
import { z } from "zod";
import {
  createOrder,
  Instant,
  type Order,
  OrderInput,
  OrderRuleError,
  type OrderStep,
  plainText,
  ReasonCode,
  transition,
} from "../engine/index.js";
import { completion } from "../report/outcome.js";
import type { RulesetCompiler } from "../rulesets/compiler.js";
import { canonicalJson } from "../store/audit.js";
import type { AuditAction, OrderStore } from "../store/interface.js";
import type { ReportService } from "./reports.js";

const Actor = plainText(z.string().trim().min(1).max(200));
const Text = (schema: z.ZodString) => plainText(schema, { multiline: true });

const EXAMPLE = {
  reference: "WP/77/2025",
  authority: { name: "Bombay High Court", jurisdiction: "IN", kind: "court" },
  jurisdictions: ["IN-MH"],
  target: { kind: "meeting", meetingIds: ["81234567890"] },
  receivedAt: "2025-02-03T09:00:00Z",
  createdAt: "2025-02-03T10:15:00Z",
  createdBy: "asha",
  decision: { status: "approved", at: "2025-02-04T08:30:00Z", by: "ravi", note: "scope checked" },
  withdrawal: { at: "2025-05-01T12:00:00Z", by: "asha", reason: "the court lifted it" },
};

export const ImportedDecision = z
  .discriminatedUnion("status", [
    z.strictObject({
      status: z.literal("approved"),
      at: Instant,
      by: Actor,
      note: Text(z.string().trim().max(2000)).optional(),
    }),
    z.strictObject({
      status: z.literal("rejected"),
      at: Instant,
      by: Actor,
      reason: Text(z.string().trim().min(1, "say why the order was rejected").max(2000)),
      reasonCode: ReasonCode.optional(),
    }),
  ])
  .meta({
    description:
      "The approval or rejection, by someone other than `createdBy` and the importer (four eyes). An approval whose block would still be in force is kept as the order's `importedApproval` until a live approver confirms it.",
  });

export const ImportedWithdrawal = z
  .strictObject({ at: Instant, by: Actor, reason: Text(z.string().trim().max(2000)).optional() })
  .meta({ description: "The authority withdrew the order (from pending or approved, not rejected)." });

export const ImportedOrder = OrderInput.safeExtend({
  createdAt: Instant.meta({ description: "When the order was entered, not earlier than receivedAt." }),
  createdBy: Actor.meta({ description: "Who entered it.", example: "asha" }),
  decision: ImportedDecision.optional(),
  withdrawal: ImportedWithdrawal.optional(),
})
  .superRefine((line, ctx) => {
    // Each step not earlier than the one before: received <= created <= decided <= withdrawn.
    const steps: [path: (string | number)[], at: string, after: string, name: string][] = [
      [["createdAt"], line.createdAt, line.receivedAt, "receivedAt"],
    ];
    if (line.decision) steps.push([["decision", "at"], line.decision.at, line.createdAt, "createdAt"]);
    if (line.withdrawal) {
      const [after, name] = line.decision ? [line.decision.at, "decision.at"] : [line.createdAt, "createdAt"];
      steps.push([["withdrawal", "at"], line.withdrawal.at, after, name]);
    }
    for (const [path, at, after, name] of steps) {
      if (Date.parse(at) < Date.parse(after)) {
        ctx.addIssue({ code: "custom", path, message: `must not be earlier than ${name} (${after})` });
      }
    }
  })
  .meta({
    id: "ImportedOrder",
    description:
      "One line of an import: an order input (as POST /v1/orders takes it) with its history. Instants in order (receivedAt <= createdAt <= decision.at <= withdrawal.at) and in the past. An approved order that has neither ended (effectiveUntil) nor been withdrawn lands pending and needs a live approval.",
    example: EXAMPLE,
  });
export type ImportedOrder = z.output<typeof ImportedOrder>;

export interface ImportIssue {
  /** `line 3: authority.jurisdiction`, or `line 3` for the line as a whole. */
  path: string;
  message: string;
}

/** The import was refused as a whole: nothing was written. */
export class ImportRefusedError extends Error {
  override readonly name = "ImportRefusedError";
  constructor(
    readonly issues: ImportIssue[],
    readonly badLines: number,
  ) {
    super(
      badLines === 0
        ? "nothing to import"
        : `${badLines} line${badLines === 1 ? "" : "s"} cannot be imported; nothing was imported`,
    );
  }
}

export interface ImportDeps {
  orders: Pick<OrderStore, "getOrder" | "applyChange">;
  compiler: Pick<RulesetCompiler, "refresh">;
  /** Epoch ms: every instant of an import must lie at or before it. */
  clock: () => number;
  /**
   * Which periods are finalized (I9): a history completed in one is refused, since its frozen report
   * can no longer count it. Absent (the offline CLI), nothing is refused for it.
   */
  reports?: Pick<ReportService, "isFinalized">;
}

export interface ImportResult {
  imported: number;
  skipped: number;
  /** One per order line, in file order; `skipped`: already stored (or changed since), nothing written. */
  orders: { line: number; id: string; result: "imported" | "skipped" }[];
}

/** Issues beyond this are summed up in one, so a wholly wrong file does not answer megabytes. */
const MAX_ISSUES = 100;

/**
 * The id of an imported order: a digest of what identifies the request in the world (who asked, their case
 * reference, when it arrived), so the same line imported twice lands on the same id. The `imp` infix keeps
 * it apart from live ids (`ord_` + 20 hex), which cannot collide with it.
 */
export function importedOrderId(input: Pick<OrderInput, "reference" | "authority" | "receivedAt">): string {
  const identity = canonicalJson([
    input.authority.jurisdiction,
    input.authority.name,
    input.reference,
    new Date(input.receivedAt).toISOString(),
  ]);
  return `ord_imp_${bytesToHex(sha256(utf8ToBytes(identity))).slice(0, 20)}`;
}

interface Step {
  action: AuditAction;
  actor: string;
  at: string;
  /** The order after this step. */
  order: Order;
}

interface Plan {
  line: number;
  id: string;
  steps: Step[];
}

/**
 * Validates every line, then applies each order's history through `store.applyChange` (create, then
 * approve or reject, then withdraw) with the historical times and actors. Throws `ImportRefusedError`
 * before writing anything if any line is bad.
 */
export async function importOrders(
  deps: ImportDeps,
  lines: string,
  importedBy: string,
): Promise<ImportResult> {
  // The mark is what tells an imported history from a live one: it must name someone.
  if (importedBy.trim() === "") throw new TypeError("importOrders: importedBy must name the admin");
  const plans = validate(lines, deps.clock(), importedBy);
  await refuseFinalized(plans, deps.reports);
  const result: ImportResult = { imported: 0, skipped: 0, orders: [] };
  for (const plan of plans) {
    const outcome = await apply(deps.orders, plan);
    result[outcome] += 1;
    result.orders.push({ line: plan.line, id: plan.id, result: outcome });
  }
  if (result.imported > 0) await deps.compiler.refresh();
  return result;
}

function validate(text: string, now: number, importedBy: string): Plan[] {
  const issues: ImportIssue[] = [];
  const plans: Plan[] = [];
  const lineOf = new Map<string, number>();
  let badLines = 0;
  text
    .replace(/^\uFEFF/, "")
    .split(/\r?\n/)
    .forEach((raw, index) => {
      const line = index + 1;
      if (raw.trim() === "") return;
      const found = planLine(raw, line, now, importedBy);
      if ("issues" in found) {
        badLines += 1;
        issues.push(...found.issues);
        return;
      }
      const first = lineOf.get(found.id);
      if (first !== undefined) {
        badLines += 1;
        issues.push({
          path: `line ${line}`,
          message: `the same order (authority, reference, receivedAt) as line ${first}`,
        });
        return;
      }
      lineOf.set(found.id, line);
      plans.push(found);
    });
  if (badLines > 0) {
    const shown = issues.slice(0, MAX_ISSUES);
    if (issues.length > MAX_ISSUES) {
      shown.push({ path: "(body)", message: `and ${issues.length - MAX_ISSUES} more issues` });
    }
    throw new ImportRefusedError(shown, badLines);
  }
  if (plans.length === 0) {
    throw new ImportRefusedError(
      [{ path: "(body)", message: "no orders: send one ImportedOrder (JSON) per line" }],
      0,
    );
  }
  return plans;
}

/** One line: parsed, checked against every rule, and turned into the steps that replay its history. */
function planLine(
  raw: string,
  line: number,
  now: number,
  importedBy: string,
): Plan | { issues: ImportIssue[] } {
  const at = (path: string) => (path ? `line ${line}: ${path}` : `line ${line}`);
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch (err) {
    return { issues: [{ path: at(""), message: `not JSON: ${(err as Error).message}` }] };
  }
  const parsed = ImportedOrder.safeParse(json);
  if (!parsed.success) {
    return {
      issues: parsed.error.issues.map((issue) => ({
        path: at(issue.path.map(String).join(".")),
        message:
          issue.code === "unrecognized_keys" ? `unknown field(s): ${issue.keys.join(", ")}` : issue.message,
      })),
    };
  }
  const { createdAt, createdBy, decision, withdrawal, ...input } = parsed.data;

  const issues: ImportIssue[] = [];
  // What happened is history and lies in the past; the enforcement window is a plan and may lie ahead.
  const instants: [string, string | undefined][] = [
    ["receivedAt", input.receivedAt],
    ["createdAt", createdAt],
    ["decision.at", decision?.at],
    ["withdrawal.at", withdrawal?.at],
  ];
  for (const [path, value] of instants) {
    if (value !== undefined && Date.parse(value) > now) {
      issues.push({ path: at(path), message: `is in the future (now: ${new Date(now).toISOString()})` });
    }
  }
  const ended =
    withdrawal !== undefined ||
    (input.effectiveUntil !== undefined && Date.parse(input.effectiveUntil) <= now);

  // The engine's own rules, by replaying the history in memory: I1, four eyes, legal transitions.
  // Lifecycle stamps are normalised to UTC, as Cordon writes its own.
  const id = importedOrderId(input);
  const utc = (instant: string) => new Date(instant).toISOString();
  const steps: Step[] = [];
  // Where a rule of the engine failed: the step being replayed.
  let stage = "jurisdictions";
  try {
    const created = utc(createdAt);
    let order: Order = { ...createOrder(input, { id, actor: createdBy, at: created }), importedBy };
    if (decision?.status === "approved" && !ended) {
      // Its block would be in force: the stated approval waits on the pending order for a live one.
      stage = "decision";
      transition(order, { type: "approve" }, decision.by, utc(decision.at));
      const stated = {
        at: utc(decision.at),
        by: decision.by,
        ...(decision.note ? { note: decision.note } : {}),
      };
      order = { ...order, importedApproval: stated };
    }
    steps.push({ action: "create", actor: createdBy, at: created, order });
    const history: [stage: string, action: OrderStep, actor: string, at: string][] = [];
    if (decision && order.importedApproval === undefined) {
      const action: OrderStep =
        decision.status === "approved"
          ? { type: "approve", ...(decision.note ? { note: decision.note } : {}) }
          : {
              type: "reject",
              reason: decision.reason,
              ...(decision.reasonCode ? { reasonCode: decision.reasonCode } : {}),
            };
      history.push(["decision", action, decision.by, utc(decision.at)]);
    }
    if (withdrawal) {
      const action: OrderStep = {
        type: "withdraw",
        ...(withdrawal.reason ? { reason: withdrawal.reason } : {}),
      };
      history.push(["withdrawal", action, withdrawal.by, utc(withdrawal.at)]);
    }
    for (const [name, action, actor, stamp] of history) {
      stage = name;
      order = transition(order, action, actor, stamp);
      steps.push({ action: action.type, actor, at: stamp, order });
    }
  } catch (err) {
    if (!(err instanceof OrderRuleError)) throw err;
    issues.push({
      path: at(err.code === "FOUR_EYES" ? `${stage}.by` : stage),
      message: `${err.code}: ${err.message}`,
    });
  }
  return issues.length > 0 ? { issues } : { line, id, steps };
}

/**
 * I9: the instant each history completes (its decision, a withdrawal while pending, or the approval an
 * in-force line carries to its live confirmation) must not lie in a finalized period: the frozen report
 * would never count it, and no other period may. Refuses the whole import, like any other bad line.
 */
async function refuseFinalized(plans: readonly Plan[], reports: ImportDeps["reports"]): Promise<void> {
  if (!reports) return;
  const issues: ImportIssue[] = [];
  for (const plan of plans) {
    const last = plan.steps.at(-1)?.order;
    if (!last) continue;
    const at = completion(last)?.at ?? last.importedApproval?.at;
    if (at !== undefined && (await reports.isFinalized(at))) {
      issues.push({
        path: `line ${plan.line}`,
        message: `completed ${at.slice(0, 10)}, in a finalized period: its published report can no longer change (I9)`,
      });
    }
  }
  if (issues.length > 0) throw new ImportRefusedError(issues.slice(0, MAX_ISSUES), issues.length);
}

/**
 * Writes the steps of one order that the store does not hold yet. Each `change` re-checks, inside the
 * store's serialised section, that the order is still at the step before, so two imports of one file
 * running at once write each step once; the loop then re-reads and carries on from where the other left.
 */
async function apply(store: ImportDeps["orders"], plan: Plan): Promise<"imported" | "skipped"> {
  let wrote = false;
  for (;;) {
    const current = await store.getOrder(plan.id);
    const done = current === undefined ? 0 : stepsDone(current, plan);
    const step = done === undefined ? undefined : plan.steps[done];
    if (done === undefined || step === undefined) return wrote ? "imported" : "skipped";
    const before = plan.steps[done - 1]?.order;
    try {
      await store.applyChange(plan.id, step.action, step.actor, step.at, (now) => {
        if (now === undefined ? before !== undefined : before === undefined || !sameState(now, before)) {
          throw new StaleStep();
        }
        return step.order;
      });
      wrote = true;
    } catch (err) {
      if (!(err instanceof StaleStep)) throw err;
    }
  }
}

class StaleStep extends Error {
  override readonly name = "StaleStep";
}

/** How many steps of the plan the stored order has been through; undefined when it departs from the plan. */
function stepsDone(current: Order, plan: Plan): number | undefined {
  // Only an imported order resumes: anything else under this id is not ours to continue.
  if (current.importedBy === undefined) return undefined;
  const index = plan.steps.findIndex((step) => sameState(current, step.order));
  return index === -1 ? undefined : index + 1;
}

/** Same order state, whoever imported it (a resumed import may be run by another admin). */
function sameState(a: Order, b: Order): boolean {
  const key = ({ importedBy: _i, enforcement: _e, ...rest }: Order) => canonicalJson(rest);
  return key(a) === key(b);
}
