/**
 * A real OpenID Connect provider for the console's sign-in tests (`oidc-provider`, run as a child
 * process by `oidc.ts`): discovery, the authorization code flow with PKCE, ID tokens, UserInfo and
 * RP-initiated logout, with its own login and consent pages (the package's development interactions:
 * any login name, any password). Usage: `oidc-provider-main.ts <port> <redirect uri> <client secret>`;
 * prints `listening <issuer>` once it serves.
 *
 * The users: the login name picks the account; their claims carry an email, a name and groups.
 */
import Provider from "oidc-provider";

export const USERS: Record<string, { email: string; name: string; groups: string[] }> = {
  rita: { email: "rita@example.org", name: "Rita Responder", groups: ["staff", "cordon-responders"] },
  anton: { email: "anton@example.org", name: "Anton Approver", groups: ["cordon-approvers"] },
  // In two mapped groups: the first entry of the mapping (admins) wins.
  ada: { email: "ada@example.org", name: "Ada Admin", groups: ["cordon-responders", "cordon-admins"] },
  nora: { email: "nora@example.org", name: "Nora Nogroup", groups: ["staff"] },
};

const [port, redirectUri, secret] = process.argv.slice(2);
if (!port || !redirectUri || !secret) {
  process.stderr.write("usage: oidc-provider-main.ts <port> <redirect uri> <client secret>\n");
  process.exit(2);
}
const issuer = `http://127.0.0.1:${port}`;

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: "cordon-console",
      client_secret: secret,
      redirect_uris: [redirectUri],
      grant_types: ["authorization_code"],
      response_types: ["code"],
      token_endpoint_auth_method: "client_secret_basic",
    },
  ],
  // Every client must use PKCE here, confidential ones too.
  pkce: { required: () => true },
  scopes: ["openid", "email", "profile", "groups"],
  claims: { email: ["email", "email_verified"], profile: ["name"], groups: ["groups"] },
  cookies: { keys: ["cordon-test-provider-cookie-key-000000000001"] },
  async findAccount(_ctx: unknown, id: string) {
    const user = USERS[id];
    if (!user) return undefined;
    return {
      accountId: id,
      async claims() {
        return { sub: id, email: user.email, email_verified: true, name: user.name, groups: user.groups };
      },
    };
  },
});
// The tests run on plain http at 127.0.0.1.
provider.proxy = false;

provider.listen(Number(port), "127.0.0.1", () => {
  process.stdout.write(`listening ${issuer}\n`);
});
