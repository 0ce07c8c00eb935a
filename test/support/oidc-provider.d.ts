/** The little of `oidc-provider` (which ships no types) that the test provider uses. */
declare module "oidc-provider" {
  export default class Provider {
    constructor(issuer: string, configuration: Record<string, unknown>);
    proxy: boolean;
    listen(port: number, host: string, ready: () => void): unknown;
  }
}
