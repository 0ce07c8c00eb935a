/**
 * The ruleset shards a request needs, read before the app answers it so that the Worker can load them
 * first (`EdgeRulesets.withShards`): every shard for the ruleset summary (`GET /v1/ruleset` counts and
 * lists every order), else the meetings and accounts its checks name. Deliberately lenient and a
 * superset of what the check routes read: every `meetingId` and `accountId` string in a POST body (a
 * check, a batch's checks, a re-check's participants), the meeting of a re-check's path, and the
 * `meeting` and `account` claims of a join ticket (read, not verified: the route verifies it). An id
 * missed here would not be guessed at: the ruleset's lookup throws for an unloaded shard.
 */
import type { ShardNeed } from "./edge-loader.js";

const NONE: ShardNeed = { meetingIds: [], accountIds: [] };
const RECHECK = /\/meetings\/([^/]+)\/recheck\/?$/;

export async function shardNeedOf(request: Request): Promise<ShardNeed> {
  if (request.method === "GET" && new URL(request.url).pathname === "/v1/ruleset")
    return { ...NONE, all: true };
  if (request.method !== "POST") return NONE;
  const meetingIds = new Set<string>();
  const accountIds = new Set<string>();
  const recheck = RECHECK.exec(new URL(request.url).pathname)?.[1];
  if (recheck !== undefined) {
    meetingIds.add(recheck);
    meetingIds.add(decoded(recheck));
  }
  let body: unknown;
  // The check routes take JSON only (anything else is a 415 without a check).
  if (request.headers.get("content-type")?.includes("json")) {
    try {
      body = JSON.parse(await request.clone().text());
    } catch {
      // Not JSON: the route answers 400 without a check.
    }
  }
  collect(body, 0, meetingIds, accountIds);
  return { meetingIds: [...meetingIds], accountIds: [...accountIds] };
}

function collect(value: unknown, depth: number, meetings: Set<string>, accounts: Set<string>): void {
  if (depth > 4 || typeof value !== "object" || value === null) return;
  if (Array.isArray(value)) {
    for (const item of value) collect(item, depth + 1, meetings, accounts);
    return;
  }
  for (const [key, item] of Object.entries(value)) {
    if (typeof item === "string") {
      if (key === "meetingId") meetings.add(item);
      else if (key === "accountId") accounts.add(item);
      else if (key === "ticket") ticketClaims(item, meetings, accounts);
    } else {
      collect(item, depth + 1, meetings, accounts);
    }
  }
}

function ticketClaims(ticket: string, meetings: Set<string>, accounts: Set<string>): void {
  const payload = ticket.split(".")[1];
  if (payload === undefined) return;
  try {
    const claims: unknown = JSON.parse(atob(payload.replaceAll("-", "+").replaceAll("_", "/")));
    if (typeof claims !== "object" || claims === null) return;
    const { meeting, account } = claims as Record<string, unknown>;
    if (typeof meeting === "string") meetings.add(meeting);
    if (typeof account === "string") accounts.add(account);
  } catch {
    // Not a JWT: the route answers 401.
  }
}

function decoded(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}
