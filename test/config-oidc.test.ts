/**
 * The console's OpenID Connect settings (CORDON_OIDC_*): off unless the issuer is set, all of issuer,
 * client id and role mapping or none, one line per problem naming the setting, and never the client
 * secret in a message.
 */
import { describe, expect, it } from "vitest";
import { oidcSettings, parseConfig } from "../src/config/node.js";

const BASE = {
  CORDON_OIDC_ISSUER: "https://idp.example.org/realms/staff",
  CORDON_OIDC_CLIENT_ID: "cordon",
  CORDON_OIDC_ROLES: "cordon-approvers:approver, /org/cordon:responders:responder",
};

const problem = (env: Record<string, string>) => {
  try {
    parseConfig(env);
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error("expected a configuration error");
};

describe("OIDC settings", () => {
  it("are off when none is set, and parsed with their defaults when the three are", () => {
    expect(oidcSettings(parseConfig({}))).toBeUndefined();
    expect(oidcSettings(parseConfig(BASE))).toEqual({
      issuer: BASE.CORDON_OIDC_ISSUER,
      clientId: "cordon",
      clientSecret: undefined,
      redirectUrl: undefined,
      scopes: "openid email profile",
      groupClaim: "groups",
      // A group value may hold colons: the role is after the last one.
      roles: [
        ["cordon-approvers", "approver"],
        ["/org/cordon:responders", "responder"],
      ],
    });
  });

  it("name what is missing when only some are set", () => {
    expect(problem({ CORDON_OIDC_ISSUER: BASE.CORDON_OIDC_ISSUER })).toContain(
      "CORDON_OIDC_CLIENT_ID, CORDON_OIDC_ROLES: OpenID Connect sign-in needs all of",
    );
    expect(problem({ CORDON_OIDC_CLIENT_SECRET: "s3cret-value-never-shown" })).toContain(
      "CORDON_OIDC_ISSUER, CORDON_OIDC_CLIENT_ID, CORDON_OIDC_ROLES: OpenID Connect sign-in needs all of",
    );
  });

  it("refuse a bad value with one line naming the setting, never echoing the secret", () => {
    const secret = "x".repeat(1001);
    const message = problem({
      ...BASE,
      CORDON_OIDC_ISSUER: "http://idp.example.org",
      CORDON_OIDC_CLIENT_SECRET: secret,
      CORDON_OIDC_ROLES: "cordon-checkers:checker,nogroup,cordon-approvers:approver,cordon-approvers:admin",
      CORDON_OIDC_SCOPES: "email profile",
    });
    expect(message).toContain("CORDON_OIDC_ISSUER: must be an https URL (http only for localhost)");
    expect(message).toContain("CORDON_OIDC_CLIENT_SECRET: must be at most 1000 characters");
    expect(message).toContain("CORDON_OIDC_ROLES: entry 1 (cordon-checkers): role must be a console role");
    expect(message).toContain("CORDON_OIDC_ROLES: entry 2: must be group:role");
    expect(message).toContain("CORDON_OIDC_ROLES: entry 4 (cordon-approvers): group named twice");
    expect(message).toContain("CORDON_OIDC_SCOPES: must include openid");
    expect(message).not.toContain(secret.slice(0, 100));
    for (const line of message.split("\n").slice(1)) expect(line).toMatch(/^ {2}CORDON_OIDC_[A-Z_]+: /);
  });

  it("take http for a provider on this machine, and a redirect URL, scopes and group claim", () => {
    const settings = oidcSettings(
      parseConfig({
        ...BASE,
        CORDON_OIDC_ISSUER: "http://127.0.0.1:9000",
        CORDON_OIDC_REDIRECT_URL: "https://cordon.example.org/console/oidc/callback",
        CORDON_OIDC_SCOPES: "openid email groups",
        CORDON_OIDC_GROUP_CLAIM: "roles",
        CORDON_OIDC_CLIENT_SECRET: "a-secret",
      }),
    );
    expect(settings).toMatchObject({
      issuer: "http://127.0.0.1:9000",
      redirectUrl: "https://cordon.example.org/console/oidc/callback",
      scopes: "openid email groups",
      groupClaim: "roles",
      clientSecret: "a-secret",
    });
  });
});
