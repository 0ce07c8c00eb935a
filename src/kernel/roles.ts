/** Who may do what: the roles of DESIGN.md ("HTTP API") and the principal a token or session names. */
export const ROLES = ["checker", "responder", "approver", "auditor", "admin"] as const;
export type Role = (typeof ROLES)[number];

export interface Principal {
  name: string;
  role: Role;
}

/**
 * Which roles may call each group of routes. `admin` may call everything. Routes and console pages
 * name one of these keys, once per route module (`http/route.ts`).
 */
export const ACCESS = {
  check: ["checker", "admin"],
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
  // The Worker's Queue consumer delivers with an admin token: writing the decision log is no checker's job.
  ingestDecisions: ["admin"],
} as const satisfies Record<string, readonly Role[]>;
export type Access = keyof typeof ACCESS;

export function mayAccess(principal: Principal | undefined, access: Access): boolean {
  return principal !== undefined && (ACCESS[access] as readonly Role[]).includes(principal.role);
}
