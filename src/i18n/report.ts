/**
 * Every string of the transparency report's HTML page, in English and Dutch, and the report's number
 * and date formats (UTC: periods are UTC). Place names come from `places.ts`. Pure.
 */
import type { Language } from "./language.js";

export type PeriodKind = "half" | "quarter" | "month";

export interface ReportStrings {
  title: string;
  period: string;
  generated: string;
  periodName: (kind: PeriodKind, year: number, index: number, monthName: string) => string;
  summary: string;
  completedRequests: string;
  outcome: {
    complied: string;
    partially_complied: string;
    shadow: string;
    rejected: string;
    withdrawn: string;
  };
  pendingAtEnd: string;
  deniedJoins: string;
  removedParticipants: string;
  shadowMatches: string;
  distinctMeetings: string;
  distinctParticipants: string;
  jurisdiction: string;
  blockJurisdiction: string;
  accountType: string;
  accountLocation: string;
  accountTypes: Record<string, string>;
  unknown: string;
  requestsByJurisdiction: string;
  requestsByJurisdictionDesc: string;
  requestsByAccountType: string;
  requestsByAccountTypeDesc: string;
  requestsByAccountLocation: string;
  pendingByJurisdiction: string;
  deniedByJurisdiction: string;
  deniedByJurisdictionDesc: string;
  enforcementByJurisdiction: string;
  tableFollows: string;
  none: string;
  /** The roll-up row of a country with subdivision rows: its own and its subdivisions' together. */
  countryTotal: (place: string) => string;
  rejectionReasons: string;
  reason: string;
  reasons: Record<string, string>;
  definitions: string;
  publishedBy: (publisher: string, service: string) => string;
  defaultPublisher: { name: string; service: string };
  methodology: string;
  methodologyItems: [string, string][];
  comparison: string;
  comparisonDesc: (previous: string) => string;
  thisPeriod: string;
  previousPeriod: string;
  change: string;
  dataset: string;
  datasetText: string;
  datasetLink: string;
  datasetSha: string;
  /** Term and explanation pairs; the small-counts entry only when a threshold (formatted) applies. */
  definitionItems: (threshold: string | undefined) => [string, string][];
}

const en: ReportStrings = {
  title: "Transparency report: government orders to restrict access to meetings",
  period: "Period",
  generated: "Generated",
  periodName: (kind, year, index, monthName) =>
    kind === "half"
      ? `${index === 1 ? "First" : "Second"} half of ${year}`
      : kind === "quarter"
        ? `${["First", "Second", "Third", "Fourth"][index - 1]} quarter of ${year}`
        : `${monthName} ${year}`,
  summary: "Summary",
  completedRequests: "Requests completed",
  outcome: {
    complied: "Complied",
    partially_complied: "Partially complied",
    shadow: "Shadow (observed, not enforced)",
    rejected: "Rejected",
    withdrawn: "Withdrawn",
  },
  pendingAtEnd: "Pending at the end of the period",
  deniedJoins: "Denied joins",
  removedParticipants: "Removed from meetings",
  shadowMatches: "Shadow matches",
  distinctMeetings: "Distinct meetings",
  distinctParticipants: "Distinct participants",
  jurisdiction: "Jurisdiction",
  blockJurisdiction: "Jurisdiction of the block",
  accountType: "Account type",
  accountLocation: "Account location",
  accountTypes: {
    basic: "Basic",
    business: "Business",
    education: "Education",
    enterprise: "Enterprise",
    no_account: "No account",
    pro: "Pro",
    // The platform's phone plans (as its published reports name them), not dial-in callers.
    phone: "Phone (phone-plan accounts)",
  },
  unknown: "Unknown",
  requestsByJurisdiction: "Requests by requesting jurisdiction",
  requestsByJurisdictionDesc:
    "Bar chart of the requests completed in the period for each jurisdiction of the requesting authority, with one bar each for complied, partially complied, shadow, rejected and withdrawn.",
  requestsByAccountType: "Requests by account type",
  requestsByAccountTypeDesc:
    "Bar chart of the requests completed in the period for each type of account concerned, with one bar each for complied, partially complied, shadow, rejected and withdrawn.",
  requestsByAccountLocation: "Requests by account location",
  pendingByJurisdiction: "Requests pending at the end of the period",
  deniedByJurisdiction: "Denied joins by jurisdiction",
  deniedByJurisdictionDesc:
    "Bar chart of the attempts to join a meeting that were refused because of an order, for each jurisdiction where the block applied.",
  enforcementByJurisdiction: "Enforcement by jurisdiction",
  tableFollows: "The table below gives the same numbers.",
  none: "None in this period.",
  countryTotal: (place) => `${place}: total`,
  rejectionReasons: "Rejected requests by reason",
  reason: "Reason",
  reasons: {
    invalid_service: "Invalid service (not a service of the platform)",
    legally_invalid: "Legally invalid",
    outside_jurisdiction: "Outside the authority's jurisdiction",
    insufficient_information: "Insufficient information",
    no_such_target: "No such meeting or account",
    other: "Other",
  },
  definitions: "Definitions",
  publishedBy: (publisher, service) => `Published by ${publisher}, for ${service}.`,
  defaultPublisher: { name: "the platform operator", service: "its meeting service" },
  methodology: "How these numbers are made",
  methodologyItems: [
    [
      "Denial",
      "A denial is one attempt to join a meeting that was refused because an approved order named the meeting or the account and the participant was located inside the jurisdiction where the block applied. Everyone located elsewhere joined as usual. People removed from a meeting in progress when a block took effect are counted apart, as removed from meetings (a reporting period before Cordon told them apart counts them with the denials).",
    ],
    [
      "Location",
      "Participants are located from their network address with a geolocation database (country or city precision), or, for callers who dial in by phone, from the country calling code of their number. Addresses and numbers are not kept: only a network prefix and a keyed hash.",
    ],
    [
      "Fail open",
      "When a participant's location is unknown or less precise than an order needs (a private address, an address not in the database, a country-only database for a regional order, a lookup error), the participant is let in. A failure of geolocation never denies anyone, so the denials here may undercount what an order asked for; they never overcount.",
    ],
  ],
  comparison: "Compared with the previous period",
  comparisonDesc: (previous) => `The previous period of the same length: ${previous}.`,
  thisPeriod: "This period",
  previousPeriod: "Previous period",
  change: "Change",
  dataset: "Dataset",
  datasetText:
    "Every request completed in the period, one row each (CSV, RFC 4180), without meeting or account identifiers.",
  datasetLink: "Download the dataset (CSV)",
  datasetSha: "SHA-256 of the dataset file",
  definitionItems: (threshold) => [
    [
      "Request",
      "A government order to restrict access to meetings or accounts. A request counts in the period in which it was completed: approved, rejected, or withdrawn by the authority before a decision. All dates and times are in UTC.",
    ],
    [
      "Complied",
      "The order was approved and the block applied, only for participants located inside the jurisdiction of the requesting authority. It stays counted as complied when the authority later withdraws the order and the block is lifted.",
    ],
    [
      "Partially complied",
      "The order was approved for less than the authority asked: fewer places (never beyond the authority's own jurisdiction) or fewer meetings or accounts. It stays counted so when the authority later withdraws the order.",
    ],
    [
      "Shadow",
      "The order was approved for observation only (shadow mode): it was never enforced and nobody was refused. What it would have refused is counted as shadow matches, apart from denials.",
    ],
    [
      "Rejected",
      "The order was reviewed and rejected; nothing was blocked. Rejected covers invalid service (the order does not concern a service of the platform), legal invalidity, no such target (no such meeting or account), insufficient information, an authority acting outside its jurisdiction, and other causes; the reasons are counted above.",
    ],
    [
      "Withdrawn",
      "The authority withdrew the order before a decision was made; nothing was blocked. An order withdrawn after it was approved stays counted as complied.",
    ],
    ["Pending", "Received before the end of the period and not completed before it."],
    [
      "Denied joins",
      "Attempts to join a meeting that were refused because of an approved order, counted under the jurisdiction where the block applied.",
    ],
    [
      "Shadow matches",
      "Attempts to join that an order in trial (shadow) mode would have refused; these participants were let in.",
    ],
    [
      "Distinct participants",
      "Participants who were refused, counted by a keyed hash of the participant's network address (addresses themselves are not kept); participants only a shadow order matched were let in and are not counted. Distinct meetings and participants are counted once over the whole period.",
    ],
    ...(threshold === undefined
      ? []
      : ([["Small counts", `Counts below ${threshold} are shown as “< ${threshold}”.`]] as [
          string,
          string,
        ][])),
    [
      "Not published",
      "This report contains no meeting or account identifiers, network addresses, order identifiers or case references.",
    ],
  ],
};

const nl: ReportStrings = {
  title: "Transparantierapport: overheidsbevelen om de toegang tot vergaderingen te beperken",
  period: "Periode",
  generated: "Opgesteld",
  periodName: (kind, year, index, monthName) =>
    kind === "half"
      ? `${index === 1 ? "Eerste" : "Tweede"} helft van ${year}`
      : kind === "quarter"
        ? `${["Eerste", "Tweede", "Derde", "Vierde"][index - 1]} kwartaal van ${year}`
        : `${monthName.charAt(0).toUpperCase()}${monthName.slice(1)} ${year}`,
  summary: "Samenvatting",
  completedRequests: "Afgehandelde verzoeken",
  outcome: {
    complied: "Opgevolgd",
    partially_complied: "Gedeeltelijk opgevolgd",
    shadow: "Schaduw (waargenomen, niet gehandhaafd)",
    rejected: "Afgewezen",
    withdrawn: "Ingetrokken",
  },
  pendingAtEnd: "Openstaand aan het einde van de periode",
  deniedJoins: "Geweigerde deelnames",
  removedParticipants: "Uit vergaderingen verwijderd",
  shadowMatches: "Treffers in schaduwmodus",
  distinctMeetings: "Unieke vergaderingen",
  distinctParticipants: "Unieke deelnemers",
  jurisdiction: "Rechtsgebied",
  blockJurisdiction: "Rechtsgebied van de blokkade",
  accountType: "Soort account",
  accountLocation: "Land van het account",
  accountTypes: {
    basic: "Basis",
    business: "Zakelijk",
    education: "Onderwijs",
    enterprise: "Onderneming",
    no_account: "Geen account",
    pro: "Pro",
    phone: "Telefoon (accounts met een telefoonabonnement)",
  },
  unknown: "Onbekend",
  requestsByJurisdiction: "Verzoeken per rechtsgebied van de verzoekende instantie",
  requestsByJurisdictionDesc:
    "Staafdiagram van de in deze periode afgehandelde verzoeken per rechtsgebied van de verzoekende instantie, met een staaf voor opgevolgd, gedeeltelijk opgevolgd, schaduw, afgewezen en ingetrokken.",
  requestsByAccountType: "Verzoeken per soort account",
  requestsByAccountTypeDesc:
    "Staafdiagram van de in deze periode afgehandelde verzoeken per soort account, met een staaf voor opgevolgd, gedeeltelijk opgevolgd, schaduw, afgewezen en ingetrokken.",
  requestsByAccountLocation: "Verzoeken per land van het account",
  pendingByJurisdiction: "Openstaande verzoeken aan het einde van de periode",
  deniedByJurisdiction: "Geweigerde deelnames per rechtsgebied",
  deniedByJurisdictionDesc:
    "Staafdiagram van de pogingen om aan een vergadering deel te nemen die vanwege een bevel zijn geweigerd, per rechtsgebied waar de blokkade gold.",
  enforcementByJurisdiction: "Handhaving per rechtsgebied",
  tableFollows: "De tabel hieronder bevat dezelfde cijfers.",
  none: "Geen in deze periode.",
  countryTotal: (place) => `${place}: totaal`,
  rejectionReasons: "Afgewezen verzoeken per reden",
  reason: "Reden",
  reasons: {
    invalid_service: "Ongeldige dienst (geen dienst van het platform)",
    legally_invalid: "Juridisch ongeldig",
    outside_jurisdiction: "Buiten het rechtsgebied van de instantie",
    insufficient_information: "Onvoldoende informatie",
    no_such_target: "Vergadering of account bestaat niet",
    other: "Anders",
  },
  definitions: "Begrippen",
  publishedBy: (publisher, service) => `Gepubliceerd door ${publisher}, voor ${service}.`,
  defaultPublisher: { name: "de beheerder van het platform", service: "de vergaderdienst" },
  methodology: "Hoe deze cijfers tot stand komen",
  methodologyItems: [
    [
      "Weigering",
      "Een weigering is één poging om aan een vergadering deel te nemen die is geweigerd omdat een goedgekeurd bevel de vergadering of het account noemde en de deelnemer zich bevond in het rechtsgebied waar de blokkade gold. Iedereen die zich elders bevond, kon gewoon deelnemen. Deelnemers die uit een lopende vergadering zijn verwijderd toen een blokkade inging, worden apart geteld, als uit vergaderingen verwijderd (een verslagperiode van voordat Cordon die onderscheidde telt hen mee bij de weigeringen).",
    ],
    [
      "Locatie",
      "Deelnemers worden gelokaliseerd aan de hand van hun netwerkadres met een geolocatiedatabase (op land- of stadsniveau), of, bij inbellers per telefoon, aan de hand van het landnummer van hun telefoonnummer. Adressen en nummers worden niet bewaard: alleen een netwerkprefix en een hash met een geheime sleutel.",
    ],
    [
      "Bij twijfel toelaten",
      "Als de locatie van een deelnemer onbekend is of minder precies dan een bevel vereist (een privéadres, een adres dat niet in de database staat, een database op landniveau bij een regionaal bevel, een fout bij het opzoeken), wordt de deelnemer toegelaten. Een storing in de geolocatie leidt nooit tot een weigering; de weigeringen hier kunnen dus lager uitvallen dan een bevel vroeg, nooit hoger.",
    ],
  ],
  comparison: "Vergeleken met de vorige periode",
  comparisonDesc: (previous) => `De vorige periode van dezelfde lengte: ${previous}.`,
  thisPeriod: "Deze periode",
  previousPeriod: "Vorige periode",
  change: "Verschil",
  dataset: "Dataset",
  datasetText:
    "Elk in deze periode afgehandeld verzoek, één regel per verzoek (CSV, RFC 4180), zonder vergader- of account-id's.",
  datasetLink: "De dataset downloaden (CSV)",
  datasetSha: "SHA-256 van het datasetbestand",
  definitionItems: (threshold) => [
    [
      "Verzoek",
      "Een bevel van een overheidsinstantie om de toegang tot vergaderingen of accounts te beperken. Een verzoek telt mee in de periode waarin het is afgehandeld: goedgekeurd, afgewezen, of door de instantie ingetrokken voordat er een besluit was. Alle datums en tijden zijn in UTC.",
    ],
    [
      "Opgevolgd",
      "Het bevel is goedgekeurd en de blokkade is toegepast, alleen voor deelnemers die zich in het rechtsgebied van de verzoekende instantie bevinden. Het blijft als opgevolgd geteld wanneer de instantie het bevel later intrekt en de blokkade wordt opgeheven.",
    ],
    [
      "Gedeeltelijk opgevolgd",
      "Het bevel is goedgekeurd voor minder dan de instantie vroeg: minder plaatsen (nooit buiten het eigen rechtsgebied van de instantie) of minder vergaderingen of accounts. Het blijft zo geteld wanneer de instantie het bevel later intrekt.",
    ],
    [
      "Schaduw",
      "Het bevel is alleen ter observatie goedgekeurd (schaduwmodus): het is nooit gehandhaafd en niemand is geweigerd. Wat het zou hebben geweigerd, telt als treffers in schaduwmodus, apart van de weigeringen.",
    ],
    [
      "Afgewezen",
      "Het bevel is beoordeeld en afgewezen; er is niets geblokkeerd. Afgewezen omvat een ongeldige dienst (het bevel betreft geen dienst van het platform), juridische ongeldigheid, een onbekend doel (de vergadering of het account bestaat niet), onvoldoende informatie, een instantie buiten haar rechtsgebied, en andere oorzaken; de redenen zijn hierboven geteld.",
    ],
    [
      "Ingetrokken",
      "De instantie heeft het bevel ingetrokken voordat er een besluit was; er is niets geblokkeerd. Een bevel dat na goedkeuring is ingetrokken, blijft als opgevolgd geteld.",
    ],
    ["Openstaand", "Ontvangen vóór het einde van de periode en niet vóór dat einde afgehandeld."],
    [
      "Geweigerde deelnames",
      "Pogingen om aan een vergadering deel te nemen die zijn geweigerd vanwege een goedgekeurd bevel, geteld onder het rechtsgebied waar de blokkade gold.",
    ],
    [
      "Treffers in schaduwmodus",
      "Pogingen tot deelname die een bevel in proefmodus (schaduwmodus) zou hebben geweigerd; deze deelnemers zijn toegelaten.",
    ],
    [
      "Unieke deelnemers",
      "Geweigerde deelnemers, geteld aan de hand van een met een geheime sleutel berekende hash van het netwerkadres (de adressen zelf worden niet bewaard); deelnemers die alleen een bevel in schaduwmodus trof, zijn toegelaten en tellen niet mee. Unieke vergaderingen en deelnemers worden over de hele periode één keer geteld.",
    ],
    ...(threshold === undefined
      ? []
      : ([["Kleine aantallen", `Aantallen onder ${threshold} worden weergegeven als “< ${threshold}”.`]] as [
          string,
          string,
        ][])),
    [
      "Niet gepubliceerd",
      "Dit rapport bevat geen vergader- of account-id's, netwerkadressen, kenmerken van bevelen of zaaknummers.",
    ],
  ],
};

export const REPORT_STRINGS: Record<Language, ReportStrings> = { en, nl };

/** How the report writes numbers, dates and names in one language; long-lived, built once per language. */
export interface ReportFormats {
  number: Intl.NumberFormat;
  /** A day, spelled out in the language's own order. */
  day: Intl.DateTimeFormat;
  /** A day and a time. */
  moment: Intl.DateTimeFormat;
  month: Intl.DateTimeFormat;
  /** Row order in the language's alphabet. */
  collator: Intl.Collator;
}

const formats = (lang: Language): ReportFormats => ({
  number: new Intl.NumberFormat(lang),
  day: new Intl.DateTimeFormat(lang, { dateStyle: "long", timeZone: "UTC" }),
  moment: new Intl.DateTimeFormat(lang, { dateStyle: "long", timeStyle: "short", timeZone: "UTC" }),
  month: new Intl.DateTimeFormat(lang, { month: "long", timeZone: "UTC" }),
  collator: new Intl.Collator(lang),
});

export const REPORT_FORMATS: Record<Language, ReportFormats> = { en: formats("en"), nl: formats("nl") };

// Finalization (I9): the provisional banner and the late records. A block of its own, beside the
// strings above rather than in them, so the report's other strings can change without touching it.

export interface ReportFinalityStrings {
  /** The banner of a period not yet finalized; `end` is its last day, formatted. */
  provisional: (state: "running" | "ended", end: string) => string;
  lateRecords: string;
  lateDefinition: [string, string];
}

export const REPORT_FINALITY_STRINGS: Record<Language, ReportFinalityStrings> = {
  en: {
    provisional: (state, end) =>
      state === "running"
        ? `Provisional: this period is still running (its last day is ${end}). Every number on this page may still change.`
        : `Provisional: this period ended on ${end} but has not been finalized yet. Its numbers may still change until it is.`,
    lateRecords: "Late records from finalized periods",
    lateDefinition: [
      "Late records",
      "Decision records from an earlier period that was already finalized when they arrived (delivered late by a server or the edge). They are counted here, and not in their own period, whose published numbers do not change.",
    ],
  },
  nl: {
    provisional: (state, end) =>
      state === "running"
        ? `Voorlopig: deze periode loopt nog (de laatste dag is ${end}). Alle cijfers op deze pagina kunnen nog veranderen.`
        : `Voorlopig: deze periode is geëindigd op ${end}, maar is nog niet definitief vastgesteld. Tot dan kunnen de cijfers nog veranderen.`,
    lateRecords: "Nagekomen registraties uit vastgestelde perioden",
    lateDefinition: [
      "Nagekomen registraties",
      "Registraties van beslissingen uit een eerdere periode die al definitief was vastgesteld toen ze binnenkwamen (te laat afgeleverd door een server of de edge). Ze worden hier geteld en niet in hun eigen periode, waarvan de gepubliceerde cijfers niet veranderen.",
    ],
  },
};
