/**
 * OpenID Connect sign-in for the console, against any standard provider found by discovery
 * (`openid-client`): the authorization code flow with PKCE (S256), state and nonce.
 *
 * - `start`: a fresh verifier, state and nonce (the transaction), and the provider's authorization URL.
 *   The transaction goes to the browser in a short-lived HttpOnly cookie (`pages/sign-in.tsx`), so any
 *   instance and any restart can finish it; the verifier is only worth something with a code the
 *   provider gives that same browser.
 * - `finish`: the callback's query against the transaction (state, the provider's `iss`), the code
 *   exchanged with the verifier, the ID token's signature, audience and nonce checked; the group claim
 *   from the ID token, or the UserInfo endpoint when the ID token does not carry it. None of the
 *   provider's tokens is kept or logged.
 * - Who signed in: `oidc:<issuer without scheme>#<subject>`, stable (the subject never changes at its
 *   issuer) and unique (a colon: no API token's principal has one, `TOKEN_PART`), so four eyes holds
 *   between OIDC users and between them and token users. The pages show a readable claim (email,
 *   preferred_username or name) as the session's label; four eyes never looks at it.
 * - The role: the first entry of the mapping (`CORDON_OIDC_ROLES`, in order) whose group the user has;
 *   none: refused.
 */
import * as client from "openid-client";
import type { Logger } from "../kernel/logger.js";
import type { Principal, Role } from "../kernel/roles.js";

export interface OidcSettings {
  issuer: string;
  clientId: string;
  /** Absent: a public client, PKCE alone. */
  clientSecret: string | undefined;
  /** Absent: `/console/oidc/callback` at the address the browser reached the console on. */
  redirectUrl: string | undefined;
  /** Space-separated; includes `openid`. */
  scopes: string;
  groupClaim: string;
  /** Group value to role, in order: the first the user has wins. */
  roles: readonly (readonly [string, Role])[];
}

/** What the browser keeps between `start` and `finish` (the transaction cookie). */
export interface OidcTransaction {
  state: string;
  nonce: string;
  verifier: string;
  redirectUri: string;
  lang: string;
}

export interface OidcIdentity {
  /** Stable and unique: `oidc:<issuer>#<sub>`. */
  name: string;
  /** What the pages show: email, preferred_username, name, or the subject. */
  label: string;
  groups: string[];
  /** Undefined: no group of the user's is mapped to a role. */
  role: Role | undefined;
}

/** Why a sign-in did not complete: the provider unreachable (503), or a callback refused (400). */
export class OidcError extends Error {
  override readonly name = "OidcError";
  constructor(
    readonly kind: "unavailable" | "refused" | "invalid",
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

export const CALLBACK_PATH = "/console/oidc/callback";

/** How long the provider may take to answer discovery, the token or the UserInfo request. */
const PROVIDER_TIMEOUT_S = 10;

export class OidcSignIn {
  readonly #settings: OidcSettings;
  readonly #logger: Logger;
  /** The discovered configuration, once; a failed discovery is tried again at the next sign-in. */
  #config: Promise<client.Configuration> | undefined;

  constructor(settings: OidcSettings, logger: Logger) {
    this.#settings = settings;
    this.#logger = logger;
  }

  /** The callback address: the setting, or the console's own address as the browser reached it. */
  redirectUriFor(requestUrl: string, forwardedProto: string | undefined): string {
    if (this.#settings.redirectUrl) return this.#settings.redirectUrl;
    const url = new URL(CALLBACK_PATH, requestUrl);
    if (forwardedProto === "https") url.protocol = "https:";
    return url.href;
  }

  async start(redirectUri: string, lang: string): Promise<{ url: URL; transaction: OidcTransaction }> {
    const config = await this.#configuration();
    const verifier = client.randomPKCECodeVerifier();
    const transaction: OidcTransaction = {
      state: client.randomState(),
      nonce: client.randomNonce(),
      verifier,
      redirectUri,
      lang,
    };
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: redirectUri,
      scope: this.#settings.scopes,
      response_type: "code",
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: "S256",
      state: transaction.state,
      nonce: transaction.nonce,
    });
    return { url, transaction };
  }

  /** Checks the callback's `query` (its search string) against `transaction`; who signed in. */
  async finish(query: string, transaction: OidcTransaction): Promise<OidcIdentity> {
    const config = await this.#configuration();
    // The address the provider redirected to, as registered: the code is bound to it.
    const current = new URL(transaction.redirectUri);
    current.search = query;
    let tokens: Awaited<ReturnType<typeof client.authorizationCodeGrant>>;
    try {
      tokens = await client.authorizationCodeGrant(config, current, {
        pkceCodeVerifier: transaction.verifier,
        expectedState: transaction.state,
        expectedNonce: transaction.nonce,
        idTokenExpected: true,
      });
    } catch (err) {
      throw classify(err);
    }
    const idClaims = tokens.claims();
    if (!idClaims) throw new OidcError("invalid", "no ID token in the token response");
    let claims: Record<string, unknown> = { ...idClaims };
    const { groupClaim } = this.#settings;
    if (claims[groupClaim] === undefined && config.serverMetadata().userinfo_endpoint) {
      try {
        const info = await client.fetchUserInfo(config, tokens.access_token, idClaims.sub);
        claims = { ...info, ...idClaims };
        if (info[groupClaim] !== undefined) claims[groupClaim] = info[groupClaim];
      } catch (err) {
        throw classify(err);
      }
    }
    const groups = groupsOf(claims[groupClaim]);
    const issuer = config.serverMetadata().issuer.replace(/^https?:\/\//, "");
    return {
      name: `oidc:${issuer}#${idClaims.sub}`,
      label: labelOf(claims) ?? idClaims.sub,
      groups,
      role: this.#settings.roles.find(([group]) => groups.includes(group))?.[1],
    };
  }

  principalOf(identity: OidcIdentity): Principal | undefined {
    return identity.role ? { name: identity.name, role: identity.role } : undefined;
  }

  /** The provider's end-session address (RP-initiated logout), when it advertises one. */
  async endSessionUrl(): Promise<URL | undefined> {
    try {
      const config = await this.#configuration();
      if (!config.serverMetadata().end_session_endpoint) return undefined;
      return client.buildEndSessionUrl(config, { client_id: this.#settings.clientId });
    } catch {
      return undefined;
    }
  }

  #configuration(): Promise<client.Configuration> {
    if (!this.#config) {
      const { issuer, clientId, clientSecret } = this.#settings;
      const insecure = new URL(issuer).protocol === "http:";
      const found = client
        .discovery(
          new URL(issuer),
          clientId,
          undefined,
          clientSecret ? client.ClientSecretBasic(clientSecret) : client.None(),
          {
            timeout: PROVIDER_TIMEOUT_S,
            // http only for localhost (the setting's check): a provider on the same machine.
            ...(insecure ? { execute: [client.allowInsecureRequests] } : {}),
          },
        )
        .catch((err: unknown) => {
          this.#config = undefined;
          this.#logger.warn("oidc discovery failed", { issuer, error: (err as Error).message });
          throw new OidcError("unavailable", `discovery at ${issuer} failed`, { cause: err });
        });
      this.#config = found;
    }
    return this.#config;
  }
}

/** The transaction cookie's value (JSON; the cookie helper percent-encodes it) and back. */
export function encodeTransaction(t: OidcTransaction): string {
  return JSON.stringify(t);
}

export function decodeTransaction(value: string | undefined): OidcTransaction | undefined {
  if (!value) return undefined;
  try {
    const t = JSON.parse(value) as Record<string, unknown>;
    const fields = ["state", "nonce", "verifier", "redirectUri", "lang"] as const;
    if (fields.every((f) => typeof t[f] === "string" && t[f] !== "")) return t as unknown as OidcTransaction;
  } catch {
    // Not JSON: no transaction.
  }
  return undefined;
}

/** The provider could not be reached (network, timeout): 503; anything else is a refused callback. */
function classify(err: unknown): OidcError {
  if (err instanceof OidcError) return err;
  if (err instanceof client.AuthorizationResponseError) {
    return new OidcError("refused", `provider answered ${err.error}`, { cause: err });
  }
  const e = err as Error & { code?: string; cause?: unknown };
  const network =
    e?.name === "TimeoutError" ||
    e?.name === "AbortError" ||
    (e instanceof TypeError && e.message === "fetch failed") ||
    e?.code === "OAUTH_TIMEOUT";
  return new OidcError(network ? "unavailable" : "invalid", e?.message ?? String(err), { cause: err });
}

function groupsOf(value: unknown): string[] {
  if (typeof value === "string") return [value];
  if (Array.isArray(value)) return value.filter((v): v is string => typeof v === "string");
  return [];
}

function labelOf(claims: Record<string, unknown>): string | undefined {
  for (const key of ["email", "preferred_username", "name"]) {
    const v = claims[key];
    if (typeof v === "string" && v.trim()) return v.trim().slice(0, 200);
  }
  return undefined;
}
