/**
 * The check routes' request bodies read without zod, for the fast path (`check-fast-path.ts`): the
 * same acceptance as `CheckRequest` and `BatchRequest` (v1-check.ts), which stay the source of the
 * OpenAPI document and of every error. These readers only accept: whatever they refuse goes to the
 * zod schema through the general router, so a refusal's status, envelope and issue paths are the
 * schema's own. `test/http/check-input.property.test.ts` checks accept/reject and the output against the
 * schemas with generated inputs.
 */
import { AccountId, CheckRole, IDENTIFIER } from "../../engine/index.js";
import { parseIp } from "../../geo/ip.js";
import { E164 } from "../../geo/phone.js";
import { type CheckInput, located } from "../../service/check.js";
import { MAX_BATCH } from "./v1-check.js";

const ROLES: ReadonlySet<unknown> = new Set(CheckRole.options);
const hasOwn = Object.prototype.hasOwnProperty;

/** A parsed JSON body as `CheckRequest` would output it, or undefined where the schema has more to say. */
export function readCheckRequest(body: unknown): CheckInput | undefined {
  if (typeof body !== "object" || body === null || Array.isArray(body)) return undefined;
  const o = body as Record<string, unknown>;
  let fields = 0;
  let ip: string | undefined;
  let phone: string | undefined;
  let accountId: string | undefined;
  let role: CheckRole | undefined;

  const meetingId = o.meetingId;
  // `MeetingId` is its pattern alone (engine/schemas.ts): tested without a parse result.
  if (!hasOwn.call(o, "meetingId") || typeof meetingId !== "string" || !IDENTIFIER.test(meetingId))
    return undefined;
  fields++;
  if (hasOwn.call(o, "ip")) {
    const value = o.ip;
    if (typeof value !== "string" || value.length > 64) return undefined;
    const parsed = parseIp(value);
    if (parsed === null) return undefined;
    ip = parsed.ip;
    fields++;
  }
  if (hasOwn.call(o, "phone")) {
    const value = o.phone;
    if (typeof value !== "string" || value.length > 16 || !E164.test(value)) return undefined;
    phone = value;
    fields++;
  }
  // Exactly one locator (`requireOneLocator`).
  if ((ip === undefined) === (phone === undefined)) return undefined;
  if (hasOwn.call(o, "accountId")) {
    const value = o.accountId;
    if (typeof value !== "string" || !AccountId.safeParse(value).success) return undefined;
    accountId = value;
    fields++;
  }
  if (hasOwn.call(o, "role")) {
    if (!ROLES.has(o.role)) return undefined;
    role = o.role as CheckRole;
    fields++;
  }
  // A strict object: any other key (`__proto__` from JSON.parse included) is for the schema to name.
  // Counted by `for...in` (no array of keys); an inherited enumerable key could only count against.
  let keys = 0;
  for (const _ in o) keys++;
  if (keys !== fields) return undefined;

  // The same keys the schema outputs, in its order (the shape order), present only when given.
  const out: { meetingId: string; ip?: string; phone?: string; accountId?: string; role?: CheckRole } = {
    meetingId,
  };
  if (ip !== undefined) out.ip = ip;
  if (phone !== undefined) out.phone = phone;
  if (accountId !== undefined) out.accountId = accountId;
  if (role !== undefined) out.role = role;
  return located(out);
}

/** A parsed JSON body as `BatchRequest` would output its `checks`, or undefined (see above). */
export function readBatchRequest(body: unknown): CheckInput[] | undefined {
  if (typeof body !== "object" || body === null || Array.isArray(body)) return undefined;
  const o = body as Record<string, unknown>;
  if (!hasOwn.call(o, "checks") || Object.keys(o).length !== 1) return undefined;
  const checks = o.checks;
  if (!Array.isArray(checks) || checks.length < 1 || checks.length > MAX_BATCH) return undefined;
  const out: CheckInput[] = new Array(checks.length);
  for (let i = 0; i < checks.length; i++) {
    const check = readCheckRequest(checks[i]);
    if (check === undefined) return undefined;
    out[i] = check;
  }
  return out;
}
