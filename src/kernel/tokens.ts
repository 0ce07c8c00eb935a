/**
 * I7's rule for the token list, shared by every place that reads one (CORDON_TOKENS on Node and in the
 * Worker, the generated tokens file, the `Authenticator`): principal names are case-insensitive and
 * unique, and one secret belongs to one principal. Problems name entries by position and principal,
 * never by secret.
 */
import { principalKey } from "./roles.js";

/** One entry as read: `secret` may be the secret itself or its digest; it is compared, never shown. */
export interface TokenEntry {
  principal: string;
  secret: string;
}

/** One line per conflict, e.g. `entries 1 and 3 name the same principal (Bob, bob)`; empty when none. */
export function tokenConflicts(entries: readonly TokenEntry[]): string[] {
  const problems: string[] = [];
  const byName = new Map<string, number>();
  const bySecret = new Map<string, number>();
  entries.forEach((entry, i) => {
    const name = principalKey(entry.principal);
    const sameName = byName.get(name);
    if (sameName === undefined) byName.set(name, i);
    else {
      const first = entries[sameName]?.principal;
      problems.push(
        `entries ${sameName + 1} and ${i + 1} name the same principal (${first}, ${entry.principal}); names are case-insensitive and must be unique`,
      );
    }
    const sameSecret = bySecret.get(entry.secret);
    if (sameSecret === undefined) bySecret.set(entry.secret, i);
    else {
      const first = entries[sameSecret]?.principal;
      problems.push(
        `entries ${sameSecret + 1} (${first}) and ${i + 1} (${entry.principal}) have the same secret; one secret belongs to one principal`,
      );
    }
  });
  return problems;
}
