/**
 * Jurisdictions: ISO 3166-1 alpha-2 countries and ISO 3166-2 subdivisions, from the maintained
 * `iso-3166` package, corrected by the reviewed table (`jurisdiction-table.ts`), and the containment
 * rule of I1 (a block jurisdiction equals or lies inside the authority's). Pure: the tables are built
 * once at module load from static data.
 */
import { iso31661, iso31662 } from "iso-3166";
import {
  GB_CONSTITUENTS,
  GROUPINGS,
  SUBDIVISION_ALIASES,
  TERRITORIES,
  type Territory,
  UNLOCATABLE,
} from "./jurisdiction-table.js";

/** Country alpha-2 code -> English name. Long-lived: built once per process/isolate. */
const countries: ReadonlyMap<string, string> = new Map(iso31661.map((c) => [c.alpha2, c.name]));

/** Subdivision code (`IN-MH`) -> name and ISO parent (a country, or a larger subdivision such as `AZ-NX`). */
const subdivisions: ReadonlyMap<string, { name: string; parent: string }> = new Map(
  iso31662.map((s) => [s.code, { name: s.name, parent: s.parent }]),
);

/** Territories by the code sources report (`GP`). */
const territories: ReadonlyMap<string, Territory> = new Map(TERRITORIES.map((t) => [t.code, t]));

/** Every code with an exact equivalent that sources report: `FR-971` -> `GP`, `NL-BQ1` -> `BQ-BO`. */
const aliases: ReadonlyMap<string, string> = new Map([
  ...TERRITORIES.flatMap((t) => t.aliases.map((a): [string, string] => [a, t.code])),
  ...SUBDIVISION_ALIASES,
]);

/**
 * The parent of each code as the table draws the map: a GB subdivision's constituent country, an
 * integral territory's state; a separate territory and a country have none. Otherwise ISO's parent.
 */
const parents: ReadonlyMap<string, string> = (() => {
  const map = new Map<string, string>();
  for (const [code, { parent }] of subdivisions) if (!aliases.has(code)) map.set(code, parent);
  for (const [nation, members] of GB_CONSTITUENTS) for (const code of members) map.set(code, nation);
  for (const t of TERRITORIES) if (t.status === "integral") map.set(t.code, t.state);
  return map;
})();

/**
 * Children of each subdivision and country by the table, for the console's picker: a state's integral
 * territories (GP under FR) after its subdivisions, GB's counties under their constituent country.
 */
const childrenOf: ReadonlyMap<string, readonly string[]> = (() => {
  const map = new Map<string, string[]>();
  for (const [code, parent] of parents) {
    // Nothing can be done with a block on an unlocatable code: the picker does not offer it.
    if (UNLOCATABLE.has(code)) continue;
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

/** The code location sources report for the same place: `FR-971` -> `GP`, `CN-HK` -> `HK`; else itself. */
export function canonical(code: string): string {
  return aliases.get(code) ?? code;
}

/**
 * The code (normalised) followed by every jurisdiction that contains it, most specific first:
 * `AZ-BAB` -> [`AZ-BAB`, `AZ-NX`, `AZ`], `GB-KEN` -> [`GB-KEN`, `GB-ENG`, `GB`], `GP` -> [`GP`, `FR`].
 * Unknown codes yield just themselves and their country prefix.
 */
export function lineage(code: string): string[] {
  const first = canonical(code);
  const out = [first];
  let current = parents.get(first);
  // Bounded by the depth of the table (at most four levels); the guard protects against a cycle in data.
  for (let depth = 0; current !== undefined && depth < 8; depth++) {
    out.push(current);
    current = parents.get(current);
  }
  const country = countryOf(first);
  if (!out.includes(country) && isCountry(country) && !isCountry(first)) out.push(country);
  return out;
}

/** I1: `inner` equals `outer` or lies inside it (after normalising both). */
export function contains(outer: string, inner: string): boolean {
  const o = canonical(outer);
  const members = GROUPINGS.get(o) ?? [];
  return lineage(inner).some((code) => code === o || members.includes(code));
}

/** Why a block cannot be granted to an authority (I1), or null when it can. */
export type BlockProblem = {
  code: "JURISDICTION_OUTSIDE_AUTHORITY" | "SEPARATE_LEGAL_ORDER" | "UNLOCATABLE_JURISDICTION";
  jurisdiction: string;
  message: string;
};

/**
 * I1 for one block jurisdiction: a known code, one that some source can report, inside the authority,
 * and not a territory with its own legal order claimed by the state it belongs to.
 */
export function blockProblem(authority: string, block: string): BlockProblem | null {
  const unlocatable = UNLOCATABLE.get(block);
  if (unlocatable !== undefined)
    return { code: "UNLOCATABLE_JURISDICTION", jurisdiction: block, message: `${block}: ${unlocatable}` };
  if (isJurisdiction(block) && isJurisdiction(authority) && contains(authority, block)) return null;
  const separate = isJurisdiction(block)
    ? lineage(block)
        .map((code) => territories.get(code))
        .find((t) => t?.status === "separate")
    : undefined;
  if (separate !== undefined && isJurisdiction(authority) && contains(separate.state, authority)) {
    return {
      code: "SEPARATE_LEGAL_ORDER",
      jurisdiction: block,
      message: `${block}: ${separate.code} has its own legal order and is not inside ${separate.state}'s jurisdiction (${separate.source})`,
    };
  }
  return {
    code: "JURISDICTION_OUTSIDE_AUTHORITY",
    jurisdiction: block,
    message: `${block} is not inside the authority's jurisdiction ${authority}`,
  };
}

/** The blocks as enforced: each normalised to the code sources report, without duplicates. */
export function normaliseBlocks(jurisdictions: readonly string[]): string[] {
  return [...new Set(jurisdictions.map(canonical))];
}

export function jurisdictionName(code: string): string | undefined {
  return countries.get(code) ?? subdivisions.get(code)?.name;
}

export function subdivisionsOf(code: string): readonly string[] {
  return childrenOf.get(code) ?? [];
}

/** Whether `code` is a subdivision (not a country): judging a block on it needs subdivision data. */
export function needsSubdivision(code: string): boolean {
  return !isCountry(canonical(code));
}

export function allCountries(): ReadonlyMap<string, string> {
  return countries;
}
