/**
 * The reviewed jurisdiction table (DESIGN "Jurisdictions", I1): data only, each entry with its source.
 * `jurisdiction.ts` reads it; the tests read it independently. Why each choice was made is in the
 * engine's README ("I1: the table").
 */

/**
 * A territory that ISO 3166-1 codes as a country (so location sources report it as one) and that
 * belongs to a state. `integral`: inside that state's national jurisdiction; `separate`: its own legal
 * order, never inside the state's. `aliases`: the state's ISO 3166-2 codes naming exactly this
 * territory, normalised to `code` (what sources report).
 */
export interface Territory {
  readonly code: string;
  readonly state: string;
  readonly status: "integral" | "separate";
  readonly aliases: readonly string[];
  readonly source: string;
}

const ISO_FR = "ISO 3166-2:FR (FR-971 ... FR-976, FR-BL ... FR-WF)";
const FR_73 = "Constitution of France, art. 73 (overseas departments and regions: legislative identity)";
const FR_74_IDENTITY =
  "Constitution of France, art. 74; CGCT art. LO6213-1, LO6313-1, LO6413-1 (laws apply of right, save the collectivity's own matters)";
const ISO_US = "ISO 3166-2:US (outlying areas US-AS, US-GU, US-MP, US-PR, US-UM, US-VI)";
const US_48 =
  "U.S. Constitution art. IV §3 (territory clause); 48 U.S.C. (territories and insular possessions)";
const ISO_NL = "ISO 3166-2:NL (NL-AW, NL-CW, NL-SX countries; NL-BQ1-3 special municipalities)";
const STATUUT =
  "Statuut voor het Koninkrijk der Nederlanden, art. 1 (Aruba, Curaçao, Sint Maarten are countries of the Kingdom with their own legal order)";
const UK_OT =
  "British Overseas Territories Act 2002, sch. 6 (each territory has its own constitution and laws)";
const CROWN_DEP =
  "Crown Dependencies: not part of the United Kingdom (Interpretation Act 1978, sch. 1 'British Islands'); own legislatures and courts";

export const TERRITORIES: readonly Territory[] = [
  // France: overseas departments and regions, and the art. 74 collectivities under legislative identity.
  { code: "GP", state: "FR", status: "integral", aliases: ["FR-971"], source: `${ISO_FR}; ${FR_73}` },
  { code: "MQ", state: "FR", status: "integral", aliases: ["FR-972"], source: `${ISO_FR}; ${FR_73}` },
  { code: "GF", state: "FR", status: "integral", aliases: ["FR-973"], source: `${ISO_FR}; ${FR_73}` },
  { code: "RE", state: "FR", status: "integral", aliases: ["FR-974"], source: `${ISO_FR}; ${FR_73}` },
  { code: "YT", state: "FR", status: "integral", aliases: ["FR-976"], source: `${ISO_FR}; ${FR_73}` },
  { code: "BL", state: "FR", status: "integral", aliases: ["FR-BL"], source: `${ISO_FR}; ${FR_74_IDENTITY}` },
  { code: "MF", state: "FR", status: "integral", aliases: ["FR-MF"], source: `${ISO_FR}; ${FR_74_IDENTITY}` },
  { code: "PM", state: "FR", status: "integral", aliases: ["FR-PM"], source: `${ISO_FR}; ${FR_74_IDENTITY}` },
  // France: legislative speciality (national law applies only where a text says so): separate.
  {
    code: "NC",
    state: "FR",
    status: "separate",
    aliases: ["FR-NC"],
    source: `${ISO_FR}; Constitution of France, title XIII; loi organique 99-209, art. 6-2 (speciality, lois du pays)`,
  },
  {
    code: "PF",
    state: "FR",
    status: "separate",
    aliases: ["FR-PF"],
    source: `${ISO_FR}; Constitution of France, art. 74; loi organique 2004-192, art. 7 (speciality)`,
  },
  {
    code: "WF",
    state: "FR",
    status: "separate",
    aliases: ["FR-WF"],
    source: `${ISO_FR}; loi 61-814 du 29 juillet 1961, art. 4 (speciality)`,
  },
  {
    code: "TF",
    state: "FR",
    status: "separate",
    aliases: ["FR-TF"],
    source: `${ISO_FR}; Constitution of France, art. 72-3; loi 55-1052, art. 1-1 (speciality)`,
  },
  // United States: the outlying areas ISO lists under US.
  { code: "PR", state: "US", status: "integral", aliases: ["US-PR"], source: `${ISO_US}; ${US_48}` },
  { code: "GU", state: "US", status: "integral", aliases: ["US-GU"], source: `${ISO_US}; ${US_48}` },
  { code: "VI", state: "US", status: "integral", aliases: ["US-VI"], source: `${ISO_US}; ${US_48}` },
  { code: "AS", state: "US", status: "integral", aliases: ["US-AS"], source: `${ISO_US}; ${US_48}` },
  { code: "MP", state: "US", status: "integral", aliases: ["US-MP"], source: `${ISO_US}; ${US_48}` },
  { code: "UM", state: "US", status: "integral", aliases: ["US-UM"], source: `${ISO_US}; ${US_48}` },
  // Kingdom of the Netherlands.
  {
    code: "BQ",
    state: "NL",
    status: "integral",
    aliases: [],
    source: `${ISO_NL}; Grondwet art. 132a (the Caribbean public bodies are part of the Netherlands)`,
  },
  { code: "AW", state: "NL", status: "separate", aliases: ["NL-AW"], source: `${ISO_NL}; ${STATUUT}` },
  { code: "CW", state: "NL", status: "separate", aliases: ["NL-CW"], source: `${ISO_NL}; ${STATUUT}` },
  { code: "SX", state: "NL", status: "separate", aliases: ["NL-SX"], source: `${ISO_NL}; ${STATUUT}` },
  // Norway, Finland.
  {
    code: "SJ",
    state: "NO",
    status: "integral",
    aliases: [],
    source:
      "ISO 3166-2:NO (NO-21 Svalbard, NO-22 Jan Mayen); Svalbardloven §1 and Jan Mayen-loven §1 (part of the Kingdom of Norway)",
  },
  {
    code: "AX",
    state: "FI",
    status: "integral",
    aliases: ["FI-01"],
    source:
      "ISO 3166-2:FI (FI-01 Ahvenanmaan maakunta); Constitution of Finland §120 and the Act on the Autonomy of Åland 1144/1991 (self-government within Finland)",
  },
  // Australia: "Australia" in a geographical sense includes these three, not Heard and McDonald.
  {
    code: "CX",
    state: "AU",
    status: "integral",
    aliases: [],
    source: "Acts Interpretation Act 1901 (Cth), s 2B 'Australia'; Christmas Island Act 1958",
  },
  {
    code: "CC",
    state: "AU",
    status: "integral",
    aliases: [],
    source: "Acts Interpretation Act 1901 (Cth), s 2B 'Australia'; Cocos (Keeling) Islands Act 1955",
  },
  {
    code: "NF",
    state: "AU",
    status: "integral",
    aliases: [],
    source: "Acts Interpretation Act 1901 (Cth), s 2B 'Australia'; Norfolk Island Act 1979 as amended 2015",
  },
  {
    code: "HM",
    state: "AU",
    status: "separate",
    aliases: [],
    source:
      "Acts Interpretation Act 1901 (Cth), s 2B (excluded from 'Australia'); Heard Island and McDonald Islands Act 1953",
  },
  // China: the special administrative regions and Taiwan, which ISO lists under CN.
  {
    code: "HK",
    state: "CN",
    status: "separate",
    aliases: ["CN-HK"],
    source:
      "ISO 3166-2:CN (CN-HK); Hong Kong Basic Law art. 2, 8, 18 (national laws do not apply save those in Annex III)",
  },
  {
    code: "MO",
    state: "CN",
    status: "separate",
    aliases: ["CN-MO"],
    source:
      "ISO 3166-2:CN (CN-MO); Macao Basic Law art. 2, 8, 18 (national laws do not apply save Annex III)",
  },
  {
    code: "TW",
    state: "CN",
    status: "separate",
    aliases: ["CN-TW"],
    source: "ISO 3166-2:CN (CN-TW); governed under the Constitution of the Republic of China, not PRC law",
  },
  // Denmark: the self-governing parts of the Realm.
  {
    code: "GL",
    state: "DK",
    status: "separate",
    aliases: [],
    source: "Act on Greenland Self-Government (Lov nr. 473 af 12/06/2009)",
  },
  {
    code: "FO",
    state: "DK",
    status: "separate",
    aliases: [],
    source: "Home Rule Act of the Faroe Islands (Lov nr. 137 af 23/03/1948); Takeover Act 2005",
  },
  // United Kingdom: Crown Dependencies and Overseas Territories.
  { code: "JE", state: "GB", status: "separate", aliases: [], source: CROWN_DEP },
  { code: "GG", state: "GB", status: "separate", aliases: [], source: CROWN_DEP },
  { code: "IM", state: "GB", status: "separate", aliases: [], source: CROWN_DEP },
  ...["AI", "BM", "IO", "VG", "KY", "FK", "GI", "MS", "PN", "SH", "TC", "GS"].map(
    (code): Territory => ({ code, state: "GB", status: "separate", aliases: [], source: UK_OT }),
  ),
];

/**
 * ISO 3166-2 codes naming exactly a subdivision that sources report under a territory's own country
 * code: normalised to it. Source: ISO 3166-2:NL and ISO 3166-2:BQ (the same islands).
 */
export const SUBDIVISION_ALIASES: ReadonlyMap<string, string> = new Map([
  ["NL-BQ1", "BQ-BO"],
  ["NL-BQ2", "BQ-SA"],
  ["NL-BQ3", "BQ-SE"],
  // ISO 3166-2:GB: the "nation" code for the whole United Kingdom.
  ["GB-UKM", "GB"],
]);

/**
 * Codes no location source can report, and no exact equivalent it does: a block on one is refused
 * (`UNLOCATABLE_JURISDICTION`), with what to block instead.
 */
export const UNLOCATABLE: ReadonlyMap<string, string> = new Map([
  ["NO-21", "sources report Svalbard and Jan Mayen together as SJ; block SJ (the smallest area they report)"],
  ["NO-22", "sources report Svalbard and Jan Mayen together as SJ; block SJ (the smallest area they report)"],
  ["FR-CP", "Clipperton has no ISO 3166-1 code and no source reports a location there"],
  ["GB-EAW", "no source reports England and Wales as a unit; block GB-ENG and GB-WLS"],
  ["GB-GBN", "no source reports Great Britain as a unit; block GB-ENG, GB-SCT and GB-WLS"],
]);

/**
 * Groupings an authority may hold that are not in the tree: an England and Wales court has
 * jurisdiction over both. Source: ISO 3166-2:GB (GB-EAW, GB-GBN "nations").
 */
export const GROUPINGS: ReadonlyMap<string, readonly string[]> = new Map([
  ["GB-EAW", ["GB-ENG", "GB-WLS"]],
  ["GB-GBN", ["GB-ENG", "GB-SCT", "GB-WLS"]],
]);

/**
 * GB's constituent countries and the ISO 3166-2:GB subdivisions in each (ISO 3166-2:GB "parent
 * subdivision", as Debian iso-codes 4.15 carries it; GB-NNH and GB-WNH, added by ISO in 2021, are
 * in England). The `iso-3166` package puts all of them directly under GB.
 */
export const GB_CONSTITUENTS: ReadonlyMap<string, readonly string[]> = new Map(
  (
    [
      [
        "GB-ENG",
        "BAS BBD BCP BDF BDG BEN BEX BIR BKM BNE BNH BNS BOL BPL BRC BRD BRY BST BUR CAM CBF CHE CHW CLD CMA CMD CON COV CRY DAL DBY DER DEV DNC DOR DUD DUR EAL ENF ERY ESS ESX GAT GLS GRE HAL HAM HAV HCK HEF HIL HMF HNS HPL HRT HRW HRY IOS IOW ISL KEC KEN KHL KIR KTT KWL LAN LBH LCE LDS LEC LEW LIN LIV LND LUT MAN MDB MDW MIK MRT NBL NEL NET NFK NGM NLN NNH NSM NTT NTY NWM NYK OLD OXF PLY POR PTE RCC RCH RDB RDG RIC ROT RUT SAW SFK SFT SGC SHF SHN SHR SKP SLF SLG SND SOL SOM SOS SRY STE STH STN STS STT STY SWD SWK TAM TFW THR TOB TRF TWH WAR WBK WFT WGN WIL WKF WLL WLV WND WNH WNM WOK WOR WRL WRT WSM WSX YOR",
      ],
      ["GB-NIR", "ABC AND ANN BFS CCG DRS FMO LBC MEA MUL NMD"],
      [
        "GB-SCT",
        "ABD ABE AGB ANS CLK DGY DND EAY EDH EDU ELN ELS ERW FAL FIF GLG HLD IVC MLN MRY NAY NLK ORK PKN RFW SAY SCB SLK STG WDU WLN ZET",
      ],
      ["GB-WLS", "AGY BGE BGW CAY CGN CMN CRF CWY DEN FLN GWN MON MTY NTL NWP PEM POW RCT SWA TOF VGL WRX"],
    ] as const
  ).map(([nation, codes]) => [nation, codes.split(" ").map((c) => `GB-${c}`)]),
);
