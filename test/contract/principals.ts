/**
 * Who calls the check routes in the shared contract suite, with which role, and their secrets. The Node
 * harness uses the same names and secret rule (`test/support/harness.ts`); the Worker gets them as
 * CORDON_TOKENS. No vitest import: the workerd project's config (Node) reads it too.
 */
export const CONTRACT_PRINCIPALS = {
  checker: "checker",
  responder: "responder",
  auditor: "auditor",
  admin: "admin",
} as const;
export type ContractWho = keyof typeof CONTRACT_PRINCIPALS;

export const secretOf = (who: ContractWho) => `test-secret-for-${who}-0123456789`;
