/**
 * Where a jurisdiction's row rolls up in the report: into the state whose national jurisdiction holds it,
 * following the engine's reviewed jurisdiction table (DESIGN "Jurisdictions"): `IN-MH` under `IN`,
 * `GB-KEN` under `GB` (through `GB-ENG`), an integral territory reported as a country (`GP`) under `FR`,
 * and a territory with its own legal order (`HK`) as its own country. Pure.
 */
import { lineage } from "../engine/index.js";

export function rollUpOf(code: string): string {
  const chain = lineage(code);
  return chain.at(-1) ?? code;
}
