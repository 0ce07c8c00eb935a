/**
 * Jurisdictions: ISO 3166-1 alpha-2 countries and ISO 3166-2 subdivisions, from the maintained
 * `iso-3166` package, and the containment rule of I1 (a block jurisdiction equals or lies inside the
 * authority's). Pure: the tables are built once at module load from static data.
 */
import { iso31661, iso31662 } from "iso-3166";

/** Country alpha-2 code -> English name. Long-lived: built once per process/isolate. */
const countries: ReadonlyMap<string, string> = new Map(iso31661.map((c) => [c.alpha2, c.name]));

/** Subdivision code (`IN-MH`) -> name and parent (a country, or a larger subdivision such as `AZ-NX`). */
const subdivisions: ReadonlyMap<string, { name: string; parent: string }> = new Map(
  iso31662.map((s) => [s.code, { name: s.name, parent: s.parent }]),
);

/** Children of each subdivision and country, for the console's picker and for precision checks. */
const childrenOf: ReadonlyMap<string, readonly string[]> = (() => {
  const map = new Map<string, string[]>();
  for (const [code, { parent }] of subdivisions) {
    const list = map.get(parent) ?? [];
    list.push(code);
    map.set(parent, list);
  }
  return map;
})();

export function isCountry(code: string): boolean {
  return countries.has(code);
}

export function isJurisdiction(code: string): boolean {
  return countries.has(code) || subdivisions.has(code);
}

/** The country part of a jurisdiction code: `IN` for `IN-MH`. */
export function countryOf(code: string): string {
  return code.slice(0, 2);
}

/**
 * The code itself followed by every jurisdiction that contains it, most specific first:
 * `AZ-BAB` -> [`AZ-BAB`, `AZ-NX`, `AZ`]. Unknown codes yield just themselves and their country prefix.
 */
export function lineage(code: string): string[] {
  const out = [code];
  let current = subdivisions.get(code);
  // Bounded by the depth of ISO 3166-2 (at most three levels); the guard protects against a cycle in data.
  for (let depth = 0; current && depth < 8; depth++) {
    out.push(current.parent);
    current = subdivisions.get(current.parent);
  }
  const country = countryOf(code);
  if (out[out.length - 1] !== country) out.push(country);
  return out;
}

/** I1: `inner` equals `outer` or lies inside it. */
export function contains(outer: string, inner: string): boolean {
  return lineage(inner).includes(outer);
}

export function jurisdictionName(code: string): string | undefined {
  return countries.get(code) ?? subdivisions.get(code)?.name;
}

export function subdivisionsOf(code: string): readonly string[] {
  return childrenOf.get(code) ?? [];
}

export function allCountries(): ReadonlyMap<string, string> {
  return countries;
}
