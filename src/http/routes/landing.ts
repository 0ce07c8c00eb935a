/**
 * GET /: people who open Cordon's address in a browser land on the console (its sign-in when they are
 * not signed in). Not an API route (not in the OpenAPI document); a redirect, so nothing is disclosed.
 */
import type { App } from "../services.js";

export function registerLanding(app: App): void {
  app.get("/", (c) => c.redirect("/console", 302));
}
