/**
 * `GET /docs`: the human API reference for `/openapi.json`, Swagger UI (`swagger-ui-dist` from npm)
 * served by Cordon itself: the page, its stylesheet and scripts all come from 'self', and the page's
 * Content-Security-Policy allows nothing else (no CDN, no inline script or style, no online validator).
 * The runtime hands in how to read the package's files (`ServerServices.docsAssets`); this layer stays
 * runtime-free. The Worker serves no reference: `GET /docs` there is a 404 naming the Node service.
 */
import type { Context } from "hono";
import { CordonError } from "../kernel/errors.js";
import type { App } from "./services.js";

/** The files of `swagger-ui-dist` the page loads, with their content types. */
export const DOCS_ASSETS = {
  "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
  "swagger-ui.css": "text/css; charset=utf-8",
} as const;
export type DocsAssetName = keyof typeof DOCS_ASSETS;

/** Reads one file of `swagger-ui-dist` (Node: from node_modules, once). */
export type DocsAssetReader = (name: DocsAssetName) => Promise<string>;

export const DOCS_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

// Relative addresses: the page works wherever the instance is mounted (`/docs` resolves `docs/...`).
const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Cordon API reference</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="docs/assets/swagger-ui.css">
</head>
<body>
<noscript><p>This reference needs JavaScript. The OpenAPI document itself is at <a href="openapi.json">openapi.json</a>.</p></noscript>
<div id="swagger-ui"></div>
<script src="docs/assets/swagger-ui-bundle.js"></script>
<script src="docs/assets/init.js"></script>
</body>
</html>
`;

/**
 * Starts Swagger UI on this instance's document. `validatorUrl: null`: no badge from the online
 * validator; tokens typed into "Authorize" stay in the page's memory (no persistAuthorization).
 */
const INIT = `"use strict";
window.addEventListener("load", function () {
  window.ui = SwaggerUIBundle({
    url: new URL("openapi.json", document.baseURI).href,
    dom_id: "#swagger-ui",
    deepLinking: true,
    validatorUrl: null,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
  });
});
`;

const SECURITY_HEADERS = {
  "Content-Security-Policy": DOCS_CSP,
  "X-Content-Type-Options": "nosniff",
  "Referrer-Policy": "no-referrer",
  "X-Frame-Options": "DENY",
};

/** The Node service: the page and its assets, when the runtime can read them. */
export function registerDocs(app: App, read: DocsAssetReader | undefined): void {
  if (!read) {
    app.get("/docs", () => {
      throw new CordonError("NOT_FOUND", "the API reference's files are not available in this process");
    });
    return;
  }
  app.get("/docs", (c) => c.html(PAGE, 200, SECURITY_HEADERS));
  app.get("/docs/assets/init.js", (c) => asset(c, INIT, "text/javascript; charset=utf-8"));
  for (const [name, type] of Object.entries(DOCS_ASSETS) as [DocsAssetName, string][]) {
    app.get(`/docs/assets/${name}`, async (c) => asset(c, await read(name), type));
  }
}

function asset(c: Context, body: string, type: string) {
  // Versioned by the package pin: an hour in a browser's cache, like the console's stylesheet.
  c.header("Cache-Control", "public, max-age=3600");
  return c.body(body, 200, { ...SECURITY_HEADERS, "Content-Type": type });
}

/** The Worker: no reference here, and a 404 that says where it is. */
export function registerDocsPointer(app: App): void {
  app.get("/docs", () => {
    throw new CordonError(
      "NOT_FOUND",
      "the API reference (/docs) is served by the Cordon Node service; this Worker documents its own routes at /openapi.json",
    );
  });
}
