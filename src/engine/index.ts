/** The pure engine (I8): schemas, jurisdictions, the order life cycle, compile and decide. */

export * from "./amendments.js";
export * from "./decide.js";
export * from "./enforcement.js";
export * from "./jurisdiction.js";
export * from "./orders.js";
export * from "./ruleset.js";
export * from "./schemas.js";
