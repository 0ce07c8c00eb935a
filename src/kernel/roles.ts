/** Who may do what: the roles of DESIGN.md ("HTTP API") and the principal a token or session names. */
export const ROLES = ["checker", "responder", "approver", "auditor", "edge", "admin"] as const;
export type Role = (typeof ROLES)[number];

export interface Principal {
  name: string;
  role: Role;
}

/**
 * What identifies a principal, whatever the case of its name: `Bob` and `bob` are the same person (I7).
 * NFKC first, so compatibility forms (full-width letters, ligatures) do not make a second name either.
 * Token lists, console sessions and four eyes all compare through it.
 */
export function principalKey(name: string): string {
  return name.normalize("NFKC").toLowerCase();
}

export function samePrincipal(a: string, b: string): boolean {
  return principalKey(a) === principalKey(b);
}

/**
 * Which roles may call each group of routes. `admin` may call everything. Routes and console pages
 * name one of these keys, once per route module (`http/route.ts`).
 */
export const ACCESS = {
  check: ["checker", "admin"],
  // The meeting service follows blocks taking effect with its checker token (DESIGN: "HTTP API").
  enforcementEvents: ["checker", "admin"],
  createOrder: ["responder", "admin"],
  withdrawOrder: ["responder", "admin"],
  decideOrder: ["approver", "admin"],
  amendOrder: ["responder", "admin"],
  decideAmendment: ["approver", "admin"],
  readOrders: ["responder", "approver", "auditor", "admin"],
  readRuleset: ["responder", "approver", "auditor", "admin"],
  readDecisions: ["auditor", "admin"],
  readAudit: ["auditor", "admin"],
  importOrders: ["admin"],
  readReports: ["auditor", "admin"],
  // Freezing a period's report (I9) is an auditor's act, like reading it.
  finalizeReports: ["auditor", "admin"],
  // The Worker's Queue consumer holds an `edge` token: it may add records to the decision log and do
  // nothing else, so a leaked Worker secret cannot touch orders, reports or the audit log.
  ingestDecisions: ["edge", "admin"],
} as const satisfies Record<string, readonly Role[]>;
export type Access = keyof typeof ACCESS;

export function mayAccess(principal: Principal | undefined, access: Access): boolean {
  return principal !== undefined && (ACCESS[access] as readonly Role[]).includes(principal.role);
}
