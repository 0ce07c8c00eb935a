/**
 * Where a jurisdiction's row rolls up in the report: a subdivision (`IN-MH`) under its country (`IN`).
 * Pure.
 *
 * The seam for the reviewed jurisdiction table (DESIGN "Jurisdictions", kept with the engine): today
 * this is the ISO 3166-2 prefix, so `GB-KEN` rolls up to `GB` directly and an integral territory reported
 * as a country (`GP`) is its own row. When the engine exports the table's containment (GB's constituent
 * countries; integral territories inside their state), this function is the one place to use it.
 */
import { countryOf } from "../engine/index.js";

export function rollUpOf(code: string): string {
  return countryOf(code);
}
