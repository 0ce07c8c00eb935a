/** Cordon's version, as `/healthz` and the OpenAPI document report it (package.json's; a test keeps them equal). */
export const VERSION = "0.1.0";
