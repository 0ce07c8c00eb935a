/**
 * Every string the console shows, in English and Dutch, its date formats, and the plain-words preview of
 * a new order. Place names come from `places.ts`, messages about refused input from `validation.ts`;
 * dates are in UTC: orders are entered and enforced in UTC. Pure.
 */
import type { EnforcementChange, EnforcementTarget, OrderAction, OrderInput } from "../engine/index.js";
import type { Language } from "./language.js";
import { placeName } from "./places.js";

const en = {
  appName: "Cordon console",
  skip: "Skip to content",
  nav: { orders: "Orders", newOrder: "New order", review: "Review", simulate: "Check simulator" },
  signedInAs: (name: string, role: string) => `Signed in as ${name} (${role})`,
  roles: {
    checker: "checker",
    responder: "responder",
    approver: "approver",
    auditor: "auditor",
    edge: "edge delivery",
    admin: "administrator",
  },
  signIn: "Sign in",
  signOut: "Sign out",
  signInTitle: "Sign in to the Cordon console",
  token: "API token",
  tokenHint:
    "The bearer token you were given for your role. It is checked once and never stored in the browser.",
  badToken: "That token is not known. Check it and try again.",
  noConsoleRole: "This token's role has no access to the console.",
  // OpenID Connect sign-in (console/oidc.ts, pages/sign-in.tsx)
  oidcSignIn: "Sign in with your organisation account",
  oidcOr: "Or sign in with an API token",
  oidcNoRoleTitle: "No role in Cordon",
  oidcNoRole: (who: string) =>
    `You signed in as ${who}, but none of your groups has a role in Cordon. Ask your administrator to add you to a Cordon group, then sign in again.`,
  oidcFailed:
    "Sign-in did not complete: the answer from the sign-in service did not belong to this browser's sign-in, or was refused. Start again from the sign-in page.",
  oidcUnavailable:
    "The sign-in service cannot be reached right now. Try again in a minute, or sign in with an API token.",
  oidcContinue: "Continue to the console",
  oidcSignedInTitle: "Signed in",
  signedOutTitle: "Signed out",
  signedOut: "You are signed out of the Cordon console.",
  oidcProviderSignOut: "Also sign out of your organisation account",
  signInAgain: "Sign in again",
  language: "Language",
  otherLanguage: "Nederlands",
  otherLanguageCode: "nl",
  // orders list
  ordersTitle: "Orders",
  filters: "Filters",
  any: "Any",
  status: "Status",
  enforcement: "Enforcement",
  jurisdiction: "Jurisdiction",
  jurisdictionFilterHint: "An ISO code such as IN or IN-MH.",
  search: "Reference contains",
  apply: "Apply filters",
  noOrders: "No orders match.",
  reference: "Reference",
  authority: "Authority",
  blocks: "Blocked in",
  refuses: "Refuses",
  target: "Names",
  received: "Received",
  statuses: { pending: "pending", approved: "approved", rejected: "rejected", withdrawn: "withdrawn" },
  enforcements: { none: "none", scheduled: "scheduled", active: "active", expired: "expired" },
  // detail
  orderTitle: (ref: string) => `Order ${ref}`,
  state: "State",
  fields: "Fields",
  meetings: "Meetings",
  accounts: "Accounts",
  counts: "Enforcement so far",
  deniedJoins: "Denied joins",
  shadowMatches: "Shadow matches",
  removedParticipants: "Removed from meetings in progress",
  hostedWhere: "Where its meetings were hosted",
  hostedUnknown: "no host checked yet",
  hostedCounts: (inside: number, outside: number) =>
    `${inside} ${inside === 1 ? "meeting" : "meetings"} with a host inside the blocked area, ${outside} outside it (from the hosts' checks)`,
  countsNote: "Counted from the decision log.",
  enforcementEvents: "Enforcement events",
  eventsNote:
    "What the meeting service was told: when the block takes effect it re-checks the people already in the meetings and removes those it refuses.",
  eventWhat: "What happened",
  rulesetVersion: "Ruleset version",
  noEvents: "No event yet: the block has not taken effect.",
  noEventsShadow: "No event: a shadow order refuses nobody, so its block never takes effect.",
  eventsKept: (span: string, since: string) =>
    `Events are kept for ${span}: this list covers those since ${since}; older ones are no longer kept.`,
  eventsNewest: (n: number) => `The newest ${n} are shown.`,
  hoursSpan: (hours: number) =>
    hours % 24 === 0
      ? `${hours / 24} ${hours === 24 ? "day" : "days"}`
      : `${hours} ${hours === 1 ? "hour" : "hours"}`,
  history: "Audit history",
  when: "When",
  who: "Who",
  action: "Action",
  actions: {
    create: "created",
    approve: "approved",
    reject: "rejected",
    withdraw: "withdrawn",
    propose_amendment: "amendment proposed",
    approve_amendment: "amendment approved",
    reject_amendment: "amendment rejected",
  },
  createdBy: "Created by",
  decidedBy: "Decided by",
  withdrawnBy: "Withdrawn by",
  reasonLabel: "Reason",
  noteLabel: "Note",
  notes: "Notes",
  mode: "Mode",
  modes: {
    enforce: "enforce (refuse as the order says)",
    shadow: "shadow (only record what would be refused)",
  },
  orderAction: "What the order does",
  orderActions: {
    geoblock: "geoblock: participants located there are refused",
    prevent_hosting: "prevent hosting: hosts located there cannot start or host",
  },
  orderActionHints: {
    geoblock: "Everyone located in the blocked places is refused the meeting, hosts included.",
    prevent_hosting:
      "A host located in the blocked places cannot start or host the meeting; no participant is refused by this order.",
  },
  /** Who an order refuses, where: the orders list and the review queue. */
  refusedWhere: (action: OrderAction, places: string) =>
    action === "prevent_hosting" ? `hosts located in ${places}` : `everyone located in ${places}`,
  shadowOnly: "shadow: only recorded, nobody refused",
  exemptAccountIds: "Exempt accounts",
  exemptHint:
    "Accounts not subject to the authority's law: never refused under this order, wherever they are. One account id per line, or separated by commas.",
  noExemptions: "none",
  exemptCount: (n: number) =>
    `${n} ${n === 1 ? "account" : "accounts"}, never refused under this order, wherever ${n === 1 ? "it is" : "they are"}:`,
  exemptLine: (ids: string) => `Exempt: ${ids} — never refused under this order, wherever they are.`,
  effectiveFrom: "Effective from",
  effectiveUntil: "Effective until",
  fromApproval: "from approval",
  noEnd: "no end date",
  accountType: "Account type",
  accountLocation: "Account location",
  authorityKind: "Kind of authority",
  kinds: { court: "court", agency: "agency", police: "police", regulator: "regulator", other: "other" },
  approve: "Approve",
  reject: "Reject",
  withdraw: "Withdraw",
  approveNote: "Note (optional)",
  rejectReason: "Reason for rejecting",
  reasonCodeLabel: "Cause (as the report counts it)",
  reasonCodes: {
    invalid_service: "not a service of ours",
    legally_invalid: "legally invalid",
    outside_jurisdiction: "outside the authority's jurisdiction",
    insufficient_information: "insufficient information",
    no_such_target: "no such meeting or account",
    other: "other",
  },
  withdrawReason: "Reason for withdrawing",
  reasonRequired: "Give a reason.",
  creatorCannotDecide: "You created this order, so a second person must approve or reject it.",
  approved: "The order is approved.",
  rejected: "The order is rejected.",
  withdrawn: "The order is withdrawn; its block is lifted.",
  created: "The order is entered and waits for a second person to approve it.",
  notFound: "There is no such order.",
  // review
  reviewTitle: "Orders waiting for review",
  reviewEmpty: "Nothing is waiting for review.",
  yours: "entered by you: someone else must review it",
  open: "Open",
  // volume: the orders list's search, sorting and pages; the review queue's age, creator, effect, impact
  volAuthoritySearch: "Authority contains",
  volMeetingIdSearch: "Meeting id",
  volAccountIdSearch: "Account id",
  volPageSize: "Orders per page",
  volSortedBy: (column: string, ascending: boolean) =>
    `Sorted by ${column.toLowerCase()}, ${ascending ? "ascending" : "descending"}.`,
  volSortBy: (column: string) => `Sort by ${column.toLowerCase()}`,
  volPages: "Pages",
  volPageOf: (page: number, pages: number, total: number) =>
    `Page ${page} of ${pages} · ${total} ${total === 1 ? "order" : "orders"}`,
  volPrevious: "Previous page",
  volNext: "Next page",
  volKind: "Kind",
  volNewOrder: "new order",
  volAmendment: "amendment",
  volAge: "Age",
  volAgeText: (ms: number) => {
    const hours = Math.floor(ms / 3_600_000);
    if (hours < 1) return "less than an hour";
    if (hours < 48) return `${hours} ${hours === 1 ? "hour" : "hours"}`;
    return `${Math.floor(hours / 24)} days`;
  },
  volCreator: "Entered by",
  volProposer: "Proposed by",
  volEffect: "What approving does",
  volImpact: "Would have refused",
  volImpactText: (joins: number, days: number) =>
    `${joins} ${joins === 1 ? "join" : "joins"} in the last ${days} days`,
  volImpactNote: (computed: string, through: string | undefined) =>
    `Counted from the recorded locations of the allowed checks at each order's meetings or accounts; computed ${computed}${through ? `, up to the check of ${through}` : ", no check recorded yet"}.`,
  volImpactPartial: "Still counting: the log is being read, so this number covers only part of the window.",
  volApproveSummary: "Before you approve",
  volAmendmentOf: (reference: string) => `Amendment of ${reference}`,
  // new order
  newTitle: "New order",
  errorSummary: "There is a problem",
  country: "Country",
  countryHint:
    "The country of the authority. Choose it, then show its regions to pick where the block applies.",
  showRegions: "Show regions",
  chooseCountry: "Choose a country",
  authorityName: "Name of the authority",
  authorityJurisdiction: "Jurisdiction of the authority",
  jurisdictions: "Block applies in",
  jurisdictionsHint: "Only places inside the authority's jurisdiction can be blocked.",
  wholeCountry: (name: string) => `All of ${name}`,
  targetKind: "The order names",
  targetKinds: { meeting: "meetings", account: "accounts" },
  targetIds: "Meeting or account ids",
  targetIdsHint: "One per line.",
  receivedAt: "Received on",
  dateHint: "Dates are in UTC.",
  effectiveFromHint: "Leave empty to start when the order is approved.",
  effectiveUntilHint: "Leave empty for no end date.",
  optional: "(optional)",
  notSet: "Not set",
  preview: "Preview",
  submit: "Submit for approval",
  previewTitle: "What will happen",
  previewNote: "Nothing is saved until you submit. A second person must then approve the order.",
  needsCityDatabase: (places: string) =>
    `${places}: the location database knows countries only, so this order will not deny anyone there until a City database is configured.`,
  // simulator
  simulateTitle: "Check simulator",
  simulateIntro:
    "Asks the engine what a join would get right now. Nothing is written: the simulated decision is not logged and does not count in any report.",
  meetingId: "Meeting id",
  accountId: "Account id",
  ip: "Participant IP address",
  phone: "Phone number of a dial-in caller",
  locatorHint:
    "Give either the IP address or, for someone dialling in, the phone number in international form (such as +31201234567).",
  locatorMissing: "Give the participant's IP address or, for a dial-in caller, their phone number.",
  locatorBoth: "Give either an IP address or a phone number, not both: one participant joins one way.",
  checkRole: "Joins as",
  checkRoles: { participant: "participant", host: "host (starts or hosts the meeting)" },
  check: "Check",
  decision: "Decision",
  code: "Code",
  located: "Located in",
  unknownPlace: "unknown",
  geoSource: "How located",
  geoSources: {
    mmdb: "located by IP address (location database)",
    webservice: "located by IP address (MaxMind web service)",
    cf: "located by the network the request came from (Cloudflare)",
    phone: "located by phone number (country calling code)",
    none: "not located",
  },
  orderIds: "Orders",
  explanation: "Explanation",
  notice: "Notice the participant sees",
  allow: "allow",
  deny: "deny",
  codes: {
    NO_ORDER:
      "No order in force applies to this meeting or account in this role (an order that only prevents hosting refuses no participant), so the participant joins as usual.",
    OUTSIDE_JURISDICTION:
      "Orders in force name this meeting or account, but the participant is located outside every blocked jurisdiction, so they join as usual.",
    GEO_UNKNOWN:
      "The participant's location is unknown or not precise enough for the order, so Cordon lets them join (it never denies on doubt).",
    EXEMPT:
      "The order exempts this account (not subject to the authority's law), so the participant joins wherever they are.",
    SHADOW_MATCH:
      "A shadow-mode order would refuse this participant; it is only recorded, and they join as usual.",
    BLOCKED: "An approved order in force refuses participants located here.",
  },
  hostBlocked:
    "An approved order in force refuses hosts located here: they cannot start or host the meeting.",
  // errors
  forbidden: "Your role may not do this.",
  csrf: "This form has expired or did not come from this console. Reload the page and try again.",
  error: "Something went wrong",
  tooLarge: "This form is too large to accept. Shorten the longest field and try again.",
  tooManyAttempts: "Too many failed attempts. Wait a minute and try again.",
  unavailable: "Cordon cannot reach its store right now. Nothing was changed; try again in a moment.",
  back: "Back to orders",
  // Amendments and the auditor's pages (issue 15): one block.
  navReports: "Reports",
  amendments: "Amendments",
  amendNone: "No amendment has been proposed.",
  amendPropose: "Propose an amendment",
  amendTitle: (ref: string) => `Amend order ${ref}`,
  amendIntro:
    "Change what the order blocks, whom it names or when it applies. A second person must approve the amendment before anything changes.",
  amendReason: "Why the order is amended",
  amendReasonHint:
    "For example: the court narrowed the order on appeal. The approver and the audit history read this.",
  amendReasonMissing: "Say why the order is amended.",
  amendNothing: "Nothing is changed yet: change at least one field.",
  amendPending: (id: string) =>
    `Amendment ${id} waits for a decision: it must be approved or rejected before another is proposed.`,
  amendNotAmendable: (status: string) =>
    `This order is ${status}; only a pending or approved order can be amended.`,
  amendPreviewTitle: "What the amendment changes",
  amendAfterTitle: "After approval, in plain words",
  amendPreviewNote: "Nothing is saved until you submit. A second person must then approve the amendment.",
  amendSubmit: "Submit amendment for approval",
  amendField: "What",
  amendBefore: "Now",
  amendAfter: "After the amendment",
  amendWas: "Before",
  amendBeyondRequest: (places: string) =>
    `${places}: not inside what the authority asked for, so the order cannot block it`,
  amendTargetBeyondRequest: (ids: string) =>
    `${ids}: not among what the authority named, so the order cannot name it`,
  amendUntilBeforeFrom: "The end date must be later than the start date.",
  amendReviewTitle: (id: string, ref: string) => `Amendment ${id} of order ${ref}`,
  amendStatus: "Amendment status",
  amendStatuses: { pending: "pending", approved: "approved", rejected: "rejected", lapsed: "lapsed" },
  amendProposedBy: "Proposed by",
  amendDecidedBy: "Decided by",
  amendLapsed: "Lapsed: the order was withdrawn or rejected before anyone decided.",
  amendProposerCannotDecide: "You proposed this amendment, so a second person must approve or reject it.",
  amendApprove: "Approve amendment",
  amendReject: "Reject amendment",
  amendRejectReason: "Reason for rejecting the amendment",
  amendRejectMissing: "Say why the amendment is rejected.",
  amendProposed: "The amendment is proposed and waits for a second person to approve it.",
  amendApproved: "The amendment is approved: the order now applies as amended.",
  amendRejected: "The amendment is rejected: the order is unchanged.",
  amendOrderLink: "Back to the order",
  amendNoSuch: "There is no such amendment.",
  amendRequested: "What the authority asked for",
  amendAsGranted: "the same as granted",
  reportsTitle: "Reports",
  reportsIntro:
    "The transparency report's periods. An open period is still running; a provisional one has ended but its numbers may still change; a finalized one is frozen and signed.",
  reportsNone: "There are no periods yet.",
  reportNoSuchPeriod: "There is no such period. Periods are written like 2026-H1, 2026-Q3 or 2026-07.",
  reportPeriod: "Period",
  reportCovers: "Covers",
  reportState: "State",
  reportStates: {
    open: "open: still running",
    provisional: "provisional: ended, numbers may change",
    finalized: "finalized: frozen and signed",
  },
  reportLinks: "Pages",
  reportPreview: "Preview",
  reportManifest: "Manifest",
  reportFinalize: "Finalize",
  periodHalf: (n: string, year: string) => `${n === "1" ? "First" : "Second"} half of ${year}`,
  periodQuarter: (n: string, year: string) => `Quarter ${n} of ${year}`,
  periodSpan: (from: string, to: string) => `${from} to ${to}`,
  reportTitle: (period: string) => `Report for ${period}`,
  reportProvisional:
    "Provisional: this period is not finalized, so these numbers may still change as late records arrive.",
  reportFinalizedBanner: (at: string) =>
    `Finalized on ${at}: these are the frozen, signed bytes, the same every time.`,
  reportFrameTitle: (period: string) => `The transparency report for ${period}`,
  reportOpenAlone: "Open the report on its own page",
  reportBackToList: "Back to the reports",
  finalizeTitle: (period: string) => `Finalize ${period}`,
  finalizeIntro:
    "Finalizing freezes this period's report: its numbers, its records and every format are fixed and signed, and records that arrive later count in the next open period. This cannot be undone.",
  finalizeFrom: (from: string, end: string, days: string) =>
    `It can be finalized from ${from}: the period's end (${end}) plus ${days}.`,
  finalizeNotYet: "That moment has not come yet, so finalizing now will be refused.",
  finalizeReady: "That moment has passed: the period can be finalized now.",
  finalizeConfirm: "I have checked the preview and understand that the report cannot change afterwards.",
  finalizeConfirmMissing: "Tick the box to confirm that the report is to be frozen.",
  finalizeButton: (period: string) => `Finalize ${period}`,
  finalizeTooEarly: (period: string, from: string, end: string, days: string) =>
    `${period} cannot be finalized yet. It can be finalized from ${from}: the period's end (${end}) plus ${days}. Nothing was changed.`,
  finalizeNotStarted: (period: string) => `${period} has not started yet, so it has no report.`,
  finalizeDone: (period: string) => `${period} is finalized: its report is frozen and its manifest signed.`,
  graceDays: (n: number) => `${n} grace ${n === 1 ? "day" : "days"}`,
  finalizeAlready: (period: string) => `${period} is already finalized.`,
  manifestTitle: (period: string) => `Manifest of ${period}`,
  manifestNotFinalized: (period: string) =>
    `${period} is not finalized, so it has no manifest yet. Finalize it once the period has ended plus the grace days.`,
  manifestIntro:
    "The signed manifest says which bytes were published and from which data: anyone can check the report against it.",
  manifestFinalizedAt: "Finalized at",
  manifestHashes: "SHA-256 of each format as published",
  manifestFormat: "Format",
  manifestCounts: "Counts",
  manifestRequests: "Requests",
  manifestPendingAtEnd: "Pending at the period's end",
  manifestLate: "Late records from finalized periods",
  manifestRecords: "Decision records",
  manifestMerkle: (count: string, root: string) => `${count}, Merkle root ${root}`,
  manifestAudit: "Audit chain read at",
  manifestAuditHead: (seq: string, hash: string) => `entry ${seq}, hash ${hash}`,
  manifestSigner: "Signed by",
  manifestKeyId: "Key id",
  manifestPublicKey: "Public key (Ed25519, base64)",
  manifestSignature: "Signature (base64url)",
  manifestVerifyTitle: "How to verify it",
  manifestVerifyCli:
    "On the server's machine, recompute everything from the data (the signature, each format's hash, the audit chain, the records and the report, byte for byte); pin the public key you published:",
  manifestVerifyRedis: "In Redis mode, give --redis URL instead of --data-dir.",
  manifestVerifyByHand:
    "By hand: download the manifest, delete its signature, serialise the rest as JSON with sorted keys and no spaces, and check the signature against the public key with any Ed25519 library; then compare the SHA-256 of each format as served with the list above.",
  manifestDownload: "Download the manifest (JSON)",
} as const;

type Strings = {
  [K in keyof typeof en]: (typeof en)[K] extends (...args: infer A) => string
    ? (...args: A) => string
    : (typeof en)[K] extends string
      ? string
      : { [P in keyof (typeof en)[K]]: string };
};

const nl: Strings = {
  appName: "Cordon-console",
  skip: "Naar de inhoud",
  nav: { orders: "Bevelen", newOrder: "Nieuw bevel", review: "Beoordelen", simulate: "Controle-simulator" },
  signedInAs: (name, role) => `Ingelogd als ${name} (${role})`,
  roles: {
    checker: "controleur",
    responder: "behandelaar",
    approver: "beoordelaar",
    auditor: "auditor",
    edge: "edge-levering",
    admin: "beheerder",
  },
  signIn: "Inloggen",
  signOut: "Uitloggen",
  signInTitle: "Inloggen bij de Cordon-console",
  token: "API-token",
  tokenHint:
    "Het bearer-token dat u voor uw rol kreeg. Het wordt één keer gecontroleerd en nooit in de browser bewaard.",
  badToken: "Dit token is onbekend. Controleer het en probeer het opnieuw.",
  noConsoleRole: "De rol van dit token heeft geen toegang tot de console.",
  oidcSignIn: "Inloggen met uw organisatieaccount",
  oidcOr: "Of log in met een API-token",
  oidcNoRoleTitle: "Geen rol in Cordon",
  oidcNoRole: (who) =>
    `U bent ingelogd als ${who}, maar geen van uw groepen heeft een rol in Cordon. Vraag uw beheerder u aan een Cordon-groep toe te voegen en log daarna opnieuw in.`,
  oidcFailed:
    "Het inloggen is niet voltooid: het antwoord van de inlogdienst hoorde niet bij het inloggen in deze browser, of werd geweigerd. Begin opnieuw op de inlogpagina.",
  oidcUnavailable:
    "De inlogdienst is nu niet bereikbaar. Probeer het over een minuut opnieuw, of log in met een API-token.",
  oidcContinue: "Verder naar de console",
  oidcSignedInTitle: "Ingelogd",
  signedOutTitle: "Uitgelogd",
  signedOut: "U bent uitgelogd bij de Cordon-console.",
  oidcProviderSignOut: "Ook uitloggen bij uw organisatieaccount",
  signInAgain: "Opnieuw inloggen",
  language: "Taal",
  otherLanguage: "English",
  otherLanguageCode: "en",
  ordersTitle: "Bevelen",
  filters: "Filters",
  any: "Alle",
  status: "Status",
  enforcement: "Handhaving",
  jurisdiction: "Rechtsgebied",
  jurisdictionFilterHint: "Een ISO-code zoals IN of IN-MH.",
  search: "Kenmerk bevat",
  apply: "Filters toepassen",
  noOrders: "Geen bevelen gevonden.",
  reference: "Kenmerk",
  authority: "Autoriteit",
  blocks: "Geblokkeerd in",
  refuses: "Weigert",
  target: "Noemt",
  received: "Ontvangen",
  statuses: {
    pending: "in afwachting",
    approved: "goedgekeurd",
    rejected: "afgewezen",
    withdrawn: "ingetrokken",
  },
  enforcements: { none: "geen", scheduled: "gepland", active: "actief", expired: "verlopen" },
  orderTitle: (ref) => `Bevel ${ref}`,
  state: "Stand",
  fields: "Gegevens",
  meetings: "Vergaderingen",
  accounts: "Accounts",
  counts: "Handhaving tot nu toe",
  deniedJoins: "Geweigerde deelnames",
  shadowMatches: "Schaduwtreffers",
  removedParticipants: "Uit lopende vergaderingen verwijderd",
  hostedWhere: "Waar de vergaderingen werden gehost",
  hostedUnknown: "nog geen host gecontroleerd",
  hostedCounts: (inside: number, outside: number) =>
    `${inside} ${inside === 1 ? "vergadering" : "vergaderingen"} met een host binnen het geblokkeerde gebied, ${outside} erbuiten (volgens de controles van de hosts)`,
  countsNote: "Geteld uit het beslissingslogboek.",
  enforcementEvents: "Handhavingsgebeurtenissen",
  eventsNote:
    "Wat de vergaderdienst te horen kreeg: gaat de blokkade in, dan controleert die de mensen die al in de vergaderingen zitten opnieuw en verwijdert wie geweigerd wordt.",
  eventWhat: "Wat er gebeurde",
  rulesetVersion: "Versie van de regelset",
  noEvents: "Nog geen gebeurtenis: de blokkade is niet ingegaan.",
  noEventsShadow:
    "Geen gebeurtenis: een bevel in schaduwmodus weigert niemand, dus de blokkade gaat nooit in.",
  eventsKept: (span: string, since: string) =>
    `Gebeurtenissen worden ${span} bewaard: deze lijst toont die sinds ${since}; oudere zijn niet meer bewaard.`,
  eventsNewest: (n: number) => `De nieuwste ${n} worden getoond.`,
  hoursSpan: (hours: number) =>
    hours % 24 === 0 ? `${hours / 24} ${hours === 24 ? "dag" : "dagen"}` : `${hours} uur`,
  history: "Auditgeschiedenis",
  when: "Wanneer",
  who: "Wie",
  action: "Handeling",
  actions: {
    create: "ingevoerd",
    approve: "goedgekeurd",
    reject: "afgewezen",
    withdraw: "ingetrokken",
    propose_amendment: "wijziging voorgesteld",
    approve_amendment: "wijziging goedgekeurd",
    reject_amendment: "wijziging afgewezen",
  },
  createdBy: "Ingevoerd door",
  decidedBy: "Beslist door",
  withdrawnBy: "Ingetrokken door",
  reasonLabel: "Reden",
  noteLabel: "Opmerking",
  notes: "Notities",
  mode: "Modus",
  modes: {
    enforce: "handhaven (weigeren zoals het bevel zegt)",
    shadow: "schaduw (alleen vastleggen wat geweigerd zou worden)",
  },
  orderAction: "Wat het bevel doet",
  orderActions: {
    geoblock: "geoblokkade: deelnemers die zich daar bevinden worden geweigerd",
    prevent_hosting: "hosten verhinderen: hosts die zich daar bevinden kunnen niet starten of hosten",
  },
  orderActionHints: {
    geoblock: "Iedereen die zich in de geblokkeerde plaatsen bevindt, wordt geweigerd, hosts ook.",
    prevent_hosting:
      "Een host die zich in de geblokkeerde plaatsen bevindt, kan de vergadering niet starten of hosten; dit bevel weigert geen deelnemers.",
  },
  refusedWhere: (action, places) =>
    action === "prevent_hosting"
      ? `hosts die zich in ${places} bevinden`
      : `iedereen die zich in ${places} bevindt`,
  shadowOnly: "schaduw: alleen vastgelegd, niemand geweigerd",
  exemptAccountIds: "Uitgezonderde accounts",
  exemptHint:
    "Accounts die niet onder het recht van de autoriteit vallen: nooit geweigerd onder dit bevel, waar ze zich ook bevinden. Eén account-id per regel, of gescheiden door komma's.",
  noExemptions: "geen",
  exemptCount: (n) =>
    `${n} ${n === 1 ? "account" : "accounts"}, nooit geweigerd onder dit bevel, waar ${n === 1 ? "het zich" : "ze zich"} ook ${n === 1 ? "bevindt" : "bevinden"}:`,
  exemptLine: (ids) => `Uitgezonderd: ${ids} — nooit geweigerd onder dit bevel, waar ze zich ook bevinden.`,
  effectiveFrom: "Geldig vanaf",
  effectiveUntil: "Geldig tot",
  fromApproval: "vanaf goedkeuring",
  noEnd: "geen einddatum",
  accountType: "Soort account",
  accountLocation: "Land van het account",
  authorityKind: "Soort autoriteit",
  kinds: {
    court: "rechtbank",
    agency: "dienst",
    police: "politie",
    regulator: "toezichthouder",
    other: "anders",
  },
  approve: "Goedkeuren",
  reject: "Afwijzen",
  withdraw: "Intrekken",
  approveNote: "Opmerking (optioneel)",
  rejectReason: "Reden van afwijzing",
  reasonCodeLabel: "Oorzaak (zoals het rapport telt)",
  reasonCodes: {
    invalid_service: "geen dienst van ons",
    legally_invalid: "juridisch ongeldig",
    outside_jurisdiction: "buiten het rechtsgebied van de instantie",
    insufficient_information: "onvoldoende informatie",
    no_such_target: "vergadering of account bestaat niet",
    other: "anders",
  },
  withdrawReason: "Reden van intrekking",
  reasonRequired: "Geef een reden.",
  creatorCannotDecide: "U hebt dit bevel ingevoerd; een tweede persoon moet het goedkeuren of afwijzen.",
  approved: "Het bevel is goedgekeurd.",
  rejected: "Het bevel is afgewezen.",
  withdrawn: "Het bevel is ingetrokken; de blokkade is opgeheven.",
  created: "Het bevel is ingevoerd en wacht op goedkeuring door een tweede persoon.",
  notFound: "Dit bevel bestaat niet.",
  reviewTitle: "Bevelen die op beoordeling wachten",
  reviewEmpty: "Er wacht niets op beoordeling.",
  yours: "door u ingevoerd: iemand anders moet het beoordelen",
  open: "Openen",
  volAuthoritySearch: "Autoriteit bevat",
  volMeetingIdSearch: "Vergadering-id",
  volAccountIdSearch: "Account-id",
  volPageSize: "Bevelen per pagina",
  volSortedBy: (column: string, ascending: boolean) =>
    `Gesorteerd op ${column.toLowerCase()}, ${ascending ? "oplopend" : "aflopend"}.`,
  volSortBy: (column: string) => `Sorteren op ${column.toLowerCase()}`,
  volPages: "Pagina's",
  volPageOf: (page: number, pages: number, total: number) =>
    `Pagina ${page} van ${pages} · ${total} ${total === 1 ? "bevel" : "bevelen"}`,
  volPrevious: "Vorige pagina",
  volNext: "Volgende pagina",
  volKind: "Soort",
  volNewOrder: "nieuw bevel",
  volAmendment: "wijziging",
  volAge: "Leeftijd",
  volAgeText: (ms: number) => {
    const hours = Math.floor(ms / 3_600_000);
    if (hours < 1) return "minder dan een uur";
    if (hours < 48) return `${hours} uur`;
    return `${Math.floor(hours / 24)} dagen`;
  },
  volCreator: "Ingevoerd door",
  volProposer: "Voorgesteld door",
  volEffect: "Wat goedkeuren doet",
  volImpact: "Zou hebben geweigerd",
  volImpactText: (joins: number, days: number) =>
    `${joins} ${joins === 1 ? "deelname" : "deelnames"} in de afgelopen ${days} dagen`,
  volImpactNote: (computed: string, through: string | undefined) =>
    `Geteld uit de vastgelegde locaties van de toegestane controles bij de vergaderingen of accounts van elk bevel; berekend ${computed}${through ? `, tot en met de controle van ${through}` : ", nog geen controle vastgelegd"}.`,
  volImpactPartial:
    "Nog aan het tellen: het logboek wordt gelezen, dus dit getal dekt maar een deel van de periode.",
  volApproveSummary: "Voordat u goedkeurt",
  volAmendmentOf: (reference: string) => `Wijziging van ${reference}`,
  newTitle: "Nieuw bevel",
  errorSummary: "Er is een probleem",
  country: "Land",
  countryHint:
    "Het land van de autoriteit. Kies het en toon dan de regio's om te kiezen waar de blokkade geldt.",
  showRegions: "Regio's tonen",
  chooseCountry: "Kies een land",
  authorityName: "Naam van de autoriteit",
  authorityJurisdiction: "Rechtsgebied van de autoriteit",
  jurisdictions: "Blokkade geldt in",
  jurisdictionsHint: "Alleen plaatsen binnen het rechtsgebied van de autoriteit kunnen worden geblokkeerd.",
  wholeCountry: (name) => `Heel ${name}`,
  targetKind: "Het bevel noemt",
  targetKinds: { meeting: "vergaderingen", account: "accounts" },
  targetIds: "Vergadering- of account-id's",
  targetIdsHint: "Eén per regel.",
  receivedAt: "Ontvangen op",
  dateHint: "Datums zijn in UTC.",
  effectiveFromHint: "Laat leeg om te beginnen bij goedkeuring.",
  effectiveUntilHint: "Laat leeg voor geen einddatum.",
  optional: "(optioneel)",
  notSet: "Niet opgegeven",
  preview: "Voorbeeld",
  submit: "Ter goedkeuring indienen",
  previewTitle: "Wat er gaat gebeuren",
  previewNote: "Er wordt niets bewaard tot u indient. Daarna moet een tweede persoon het bevel goedkeuren.",
  needsCityDatabase: (places: string) =>
    `${places}: de locatiedatabase kent alleen landen, dus dit bevel weigert daar niemand tot er een City-database is ingesteld.`,
  simulateTitle: "Controle-simulator",
  simulateIntro:
    "Vraagt de engine wat een deelname nu zou krijgen. Er wordt niets vastgelegd: de gesimuleerde beslissing komt niet in het logboek en telt in geen enkel rapport mee.",
  meetingId: "Vergadering-id",
  accountId: "Account-id",
  ip: "IP-adres van de deelnemer",
  phone: "Telefoonnummer van een inbeller",
  locatorHint:
    "Geef het IP-adres of, voor wie inbelt, het telefoonnummer in internationale vorm (zoals +31201234567).",
  locatorMissing: "Geef het IP-adres van de deelnemer of, voor een inbeller, het telefoonnummer.",
  locatorBoth:
    "Geef een IP-adres of een telefoonnummer, niet allebei: een deelnemer neemt op één manier deel.",
  checkRole: "Neemt deel als",
  checkRoles: { participant: "deelnemer", host: "host (start of host de vergadering)" },
  check: "Controleren",
  decision: "Beslissing",
  code: "Code",
  located: "Locatie",
  unknownPlace: "onbekend",
  geoSource: "Hoe gelokaliseerd",
  geoSources: {
    mmdb: "gelokaliseerd via IP-adres (locatiedatabase)",
    webservice: "gelokaliseerd via IP-adres (webdienst van MaxMind)",
    cf: "gelokaliseerd via het netwerk van het verzoek (Cloudflare)",
    phone: "gelokaliseerd via telefoonnummer (landnummer)",
    none: "niet gelokaliseerd",
  },
  orderIds: "Bevelen",
  explanation: "Uitleg",
  notice: "Melding die de deelnemer ziet",
  allow: "toestaan",
  deny: "weigeren",
  codes: {
    NO_ORDER:
      "Geen geldend bevel geldt voor deze vergadering of dit account in deze rol (een bevel dat alleen hosten verhindert, weigert geen deelnemers), dus de deelnemer neemt gewoon deel.",
    OUTSIDE_JURISDICTION:
      "Geldende bevelen noemen deze vergadering of dit account, maar de deelnemer bevindt zich buiten elk geblokkeerd rechtsgebied en neemt gewoon deel.",
    GEO_UNKNOWN:
      "De locatie van de deelnemer is onbekend of niet nauwkeurig genoeg voor het bevel, dus Cordon laat de deelnemer toe (bij twijfel nooit weigeren).",
    EXEMPT:
      "Het bevel zondert dit account uit (niet onderworpen aan het recht van de autoriteit), dus de deelnemer neemt deel, waar die zich ook bevindt.",
    SHADOW_MATCH:
      "Een bevel in schaduwmodus zou deze deelnemer weigeren; dat wordt alleen vastgelegd en de deelnemer neemt gewoon deel.",
    BLOCKED: "Een goedgekeurd, geldend bevel weigert deelnemers op deze locatie.",
  },
  hostBlocked:
    "Een goedgekeurd, geldend bevel weigert hosts op deze locatie: zij kunnen de vergadering niet starten of hosten.",
  forbidden: "Uw rol mag dit niet.",
  csrf: "Dit formulier is verlopen of kwam niet van deze console. Laad de pagina opnieuw en probeer het nog eens.",
  error: "Er ging iets mis",
  tooLarge: "Dit formulier is te groot. Kort het langste veld in en probeer het opnieuw.",
  tooManyAttempts: "Te veel mislukte pogingen. Wacht een minuut en probeer het opnieuw.",
  unavailable: "Cordon kan zijn opslag nu niet bereiken. Er is niets gewijzigd; probeer het zo opnieuw.",
  back: "Terug naar de bevelen",
  // Amendments and the auditor's pages (issue 15): one block.
  navReports: "Rapporten",
  amendments: "Wijzigingen",
  amendNone: "Er is geen wijziging voorgesteld.",
  amendPropose: "Een wijziging voorstellen",
  amendTitle: (ref) => `Bevel ${ref} wijzigen`,
  amendIntro:
    "Wijzig wat het bevel blokkeert, wie het noemt of wanneer het geldt. Een tweede persoon moet de wijziging goedkeuren voordat er iets verandert.",
  amendReason: "Waarom het bevel gewijzigd wordt",
  amendReasonHint:
    "Bijvoorbeeld: de rechter heeft het bevel in hoger beroep beperkt. De beoordelaar en de auditgeschiedenis lezen dit.",
  amendReasonMissing: "Zeg waarom het bevel gewijzigd wordt.",
  amendNothing: "Er is nog niets gewijzigd: wijzig ten minste één veld.",
  amendPending: (id) =>
    `Wijziging ${id} wacht op een besluit: die moet goedgekeurd of afgewezen zijn voordat er een nieuwe wordt voorgesteld.`,
  amendNotAmendable: (status) =>
    `Dit bevel is ${status}; alleen een bevel dat in afwachting of goedgekeurd is, kan gewijzigd worden.`,
  amendPreviewTitle: "Wat de wijziging verandert",
  amendAfterTitle: "Na goedkeuring, in gewone woorden",
  amendPreviewNote:
    "Er wordt niets opgeslagen tot u indient. Een tweede persoon moet de wijziging daarna goedkeuren.",
  amendSubmit: "Wijziging ter goedkeuring indienen",
  amendField: "Wat",
  amendBefore: "Nu",
  amendAfter: "Na de wijziging",
  amendWas: "Voorheen",
  amendBeyondRequest: (places) =>
    `${places}: valt niet binnen wat de autoriteit vroeg, dus het bevel kan het niet blokkeren`,
  amendTargetBeyondRequest: (ids) =>
    `${ids}: hoort niet bij wat de autoriteit noemde, dus het bevel kan het niet noemen`,
  amendUntilBeforeFrom: "De einddatum moet later zijn dan de ingangsdatum.",
  amendReviewTitle: (id, ref) => `Wijziging ${id} van bevel ${ref}`,
  amendStatus: "Stand van de wijziging",
  amendStatuses: {
    pending: "in afwachting",
    approved: "goedgekeurd",
    rejected: "afgewezen",
    lapsed: "vervallen",
  },
  amendProposedBy: "Voorgesteld door",
  amendDecidedBy: "Besloten door",
  amendLapsed: "Vervallen: het bevel werd ingetrokken of afgewezen voordat iemand besliste.",
  amendProposerCannotDecide:
    "U hebt deze wijziging voorgesteld, dus een tweede persoon moet haar goedkeuren of afwijzen.",
  amendApprove: "Wijziging goedkeuren",
  amendReject: "Wijziging afwijzen",
  amendRejectReason: "Reden om de wijziging af te wijzen",
  amendRejectMissing: "Zeg waarom de wijziging wordt afgewezen.",
  amendProposed: "De wijziging is voorgesteld en wacht op goedkeuring door een tweede persoon.",
  amendApproved: "De wijziging is goedgekeurd: het bevel geldt nu zoals gewijzigd.",
  amendRejected: "De wijziging is afgewezen: het bevel is ongewijzigd.",
  amendOrderLink: "Terug naar het bevel",
  amendNoSuch: "Deze wijziging bestaat niet.",
  amendRequested: "Wat de autoriteit vroeg",
  amendAsGranted: "hetzelfde als toegekend",
  reportsTitle: "Rapporten",
  reportsIntro:
    "De perioden van het transparantierapport. Een open periode loopt nog; een voorlopige is voorbij, maar de aantallen kunnen nog veranderen; een definitieve is bevroren en ondertekend.",
  reportsNone: "Er zijn nog geen perioden.",
  reportNoSuchPeriod: "Deze periode bestaat niet. Perioden schrijft u als 2026-H1, 2026-Q3 of 2026-07.",
  reportPeriod: "Periode",
  reportCovers: "Omvat",
  reportState: "Stand",
  reportStates: {
    open: "open: loopt nog",
    provisional: "voorlopig: voorbij, aantallen kunnen veranderen",
    finalized: "definitief: bevroren en ondertekend",
  },
  reportLinks: "Pagina's",
  reportPreview: "Voorbeeld",
  reportManifest: "Manifest",
  reportFinalize: "Definitief maken",
  periodHalf: (n, year) => `${n === "1" ? "Eerste" : "Tweede"} helft van ${year}`,
  periodQuarter: (n, year) => `Kwartaal ${n} van ${year}`,
  periodSpan: (from, to) => `${from} tot en met ${to}`,
  reportTitle: (period) => `Rapport over ${period}`,
  reportProvisional:
    "Voorlopig: deze periode is niet definitief, dus de aantallen kunnen nog veranderen als er late records binnenkomen.",
  reportFinalizedBanner: (at) =>
    `Definitief gemaakt op ${at}: dit zijn de bevroren, ondertekende bytes, elke keer dezelfde.`,
  reportFrameTitle: (period) => `Het transparantierapport over ${period}`,
  reportOpenAlone: "Het rapport op een eigen pagina openen",
  reportBackToList: "Terug naar de rapporten",
  finalizeTitle: (period) => `${period} definitief maken`,
  finalizeIntro:
    "Definitief maken bevriest het rapport van deze periode: de aantallen, de records en elk formaat worden vastgelegd en ondertekend, en records die later binnenkomen tellen in de volgende open periode. Dit kan niet ongedaan gemaakt worden.",
  finalizeFrom: (from, end, days) => `Dat kan vanaf ${from}: het einde van de periode (${end}) plus ${days}.`,
  finalizeNotYet: "Dat moment is nog niet gekomen, dus definitief maken wordt nu geweigerd.",
  finalizeReady: "Dat moment is voorbij: de periode kan nu definitief gemaakt worden.",
  finalizeConfirm:
    "Ik heb het voorbeeld gecontroleerd en begrijp dat het rapport daarna niet meer kan veranderen.",
  finalizeConfirmMissing: "Vink het vakje aan om te bevestigen dat het rapport bevroren moet worden.",
  finalizeButton: (period) => `${period} definitief maken`,
  finalizeTooEarly: (period, from, end, days) =>
    `${period} kan nog niet definitief gemaakt worden. Dat kan vanaf ${from}: het einde van de periode (${end}) plus ${days}. Er is niets gewijzigd.`,
  finalizeNotStarted: (period) => `${period} is nog niet begonnen en heeft dus geen rapport.`,
  finalizeDone: (period) => `${period} is definitief: het rapport is bevroren en het manifest ondertekend.`,
  graceDays: (n) => `${n} ${n === 1 ? "uitloopdag" : "uitloopdagen"}`,
  finalizeAlready: (period) => `${period} is al definitief.`,
  manifestTitle: (period) => `Manifest van ${period}`,
  manifestNotFinalized: (period) =>
    `${period} is niet definitief en heeft dus nog geen manifest. Maak de periode definitief zodra ze voorbij is, plus de uitloopdagen.`,
  manifestIntro:
    "Het ondertekende manifest zegt welke bytes gepubliceerd zijn en uit welke gegevens: iedereen kan het rapport ermee controleren.",
  manifestFinalizedAt: "Definitief gemaakt op",
  manifestHashes: "SHA-256 van elk formaat zoals gepubliceerd",
  manifestFormat: "Formaat",
  manifestCounts: "Aantallen",
  manifestRequests: "Verzoeken",
  manifestPendingAtEnd: "In afwachting aan het einde van de periode",
  manifestLate: "Late records uit definitieve perioden",
  manifestRecords: "Beslissingsrecords",
  manifestMerkle: (count, root) => `${count}, Merkle-wortel ${root}`,
  manifestAudit: "Auditketen gelezen bij",
  manifestAuditHead: (seq, hash) => `item ${seq}, hash ${hash}`,
  manifestSigner: "Ondertekend door",
  manifestKeyId: "Sleutel-id",
  manifestPublicKey: "Publieke sleutel (Ed25519, base64)",
  manifestSignature: "Handtekening (base64url)",
  manifestVerifyTitle: "Zo controleert u het",
  manifestVerifyCli:
    "Reken op de machine van de server alles na uit de gegevens (de handtekening, de hash van elk formaat, de auditketen, de records en het rapport, byte voor byte); leg de publieke sleutel vast die u publiceerde:",
  manifestVerifyRedis: "In Redis-modus geeft u --redis URL in plaats van --data-dir.",
  manifestVerifyByHand:
    "Met de hand: download het manifest, verwijder de handtekening, schrijf de rest als JSON met gesorteerde sleutels en zonder spaties, en controleer de handtekening met de publieke sleutel in een willekeurige Ed25519-bibliotheek; vergelijk daarna de SHA-256 van elk formaat zoals geserveerd met de lijst hierboven.",
  manifestDownload: "Het manifest downloaden (JSON)",
};

export const STRINGS: Record<Language, Strings> = { en, nl };
export type { Strings };

/** English dates in the day-month-year order lawyers on both sides of the Channel read without doubt. */
const dateFormats: Record<Language, Intl.DateTimeFormat> = {
  en: new Intl.DateTimeFormat("en-GB", { dateStyle: "long", timeZone: "UTC" }),
  nl: new Intl.DateTimeFormat("nl-NL", { dateStyle: "long", timeZone: "UTC" }),
};
const timeFormats: Record<Language, Intl.DateTimeFormat> = {
  en: new Intl.DateTimeFormat("en-GB", { dateStyle: "medium", timeStyle: "short", timeZone: "UTC" }),
  nl: new Intl.DateTimeFormat("nl-NL", { dateStyle: "medium", timeStyle: "short", timeZone: "UTC" }),
};

export function formatDate(iso: string, lang: Language): string {
  const t = Date.parse(iso);
  return Number.isNaN(t) ? iso : dateFormats[lang].format(t);
}

export function formatTime(iso: string, lang: Language): string {
  const t = Date.parse(iso);
  return Number.isNaN(t) ? iso : `${timeFormats[lang].format(t)} UTC`;
}

const lists = {
  en: {
    and: new Intl.ListFormat("en-GB", { type: "conjunction" }),
    or: new Intl.ListFormat("en-GB", { type: "disjunction" }),
  },
  nl: {
    and: new Intl.ListFormat("nl", { type: "conjunction" }),
    or: new Intl.ListFormat("nl", { type: "disjunction" }),
  },
} as const;

/**
 * Whom a block refuses, in plain words: everyone located in its places (under `prevent_hosting` only
 * hosts there), narrowed to the named accounts for an account target; and the named meetings. Shared by
 * the new order's preview and the order page's enforcement events.
 */
function scopeWords(
  target: EnforcementTarget,
  jurisdictions: readonly string[],
  hosting: boolean,
  lang: Language,
): { who: string; lower: string; meetings: string; byAccount: boolean } {
  const { and, or } = lists[lang];
  const places = or.format(jurisdictions.map((j) => placeName(j, lang)));
  const byAccount = target.kind === "account";
  const ids = target.kind === "account" ? target.accountIds : target.meetingIds;
  let who: string;
  let meetings: string;
  if (lang === "nl") {
    const people = hosting ? "Hosts" : "Deelnemers";
    who = byAccount
      ? `${people} met ${ids.length === 1 ? "account" : "de accounts"} ${or.format(ids)} die zich in ${places} bevinden`
      : `${people} die zich in ${places} bevinden`;
    meetings = `${ids.length === 1 ? "vergadering" : "vergaderingen"} ${and.format(ids)}`;
  } else {
    const people = hosting ? "Hosts" : "Participants";
    who = byAccount
      ? `${people} using ${ids.length === 1 ? "account" : "the accounts"} ${or.format(ids)} who are located in ${places}`
      : `${people} located in ${places}`;
    meetings = `${ids.length === 1 ? "meeting" : "meetings"} ${and.format(ids)}`;
  }
  return { who, lower: `${who.charAt(0).toLowerCase()}${who.slice(1)}`, meetings, byAccount };
}

/**
 * What an order will do, in plain words, for the person about to submit it: who is refused (everyone
 * located in the block, or under `prevent_hosting` only hosts there), which meetings, and when.
 * Exemptions are said apart (`exemptLine`).
 */
export function orderPreview(input: OrderInput, lang: Language): string {
  const from = input.effectiveFrom ? formatDate(input.effectiveFrom, lang) : undefined;
  const until = input.effectiveUntil ? formatDate(input.effectiveUntil, lang) : undefined;
  const shadow = input.mode === "shadow";
  const hosting = input.action === "prevent_hosting";
  const { who, lower, meetings, byAccount } = scopeWords(input.target, input.jurisdictions, hosting, lang);
  if (lang === "nl") {
    const when = `${from ? `vanaf ${from}` : "vanaf het moment van goedkeuring"}${until ? ` tot ${until}` : ""}`;
    if (hosting) {
      const what = byAccount ? "welke vergadering dan ook" : meetings;
      return shadow
        ? `Niemand wordt geweigerd: ${lower} worden ${when} bij het starten of hosten van ${what} alleen vastgelegd als schaduwtreffer; iedereen neemt gewoon deel.`
        : `${who}, kunnen ${when} ${byAccount ? "geen enkele vergadering" : `${meetings} niet`} starten of hosten; deelnemers worden niet geweigerd.`;
    }
    const what = byAccount ? "elke vergadering" : meetings;
    return shadow
      ? `Niemand wordt geweigerd: ${lower} worden ${when} bij ${what} alleen vastgelegd als schaduwtreffer; iedereen neemt gewoon deel.`
      : `${who}, worden ${when} geweigerd voor ${what}; alle anderen nemen gewoon deel.`;
  }
  const when = `${from ? `from ${from}` : "from the moment it is approved"}${until ? ` until ${until}` : ""}`;
  if (hosting) {
    const what = byAccount ? "any meeting" : meetings;
    return shadow
      ? `Nobody will be refused: ${lower} starting or hosting ${what} will only be recorded as shadow matches ${when}; everyone joins as usual.`
      : `${who} cannot start or host ${what} ${when}; participants are not refused.`;
  }
  const what = byAccount ? "every meeting" : meetings;
  return shadow
    ? `Nobody will be refused: ${lower} joining ${what} will only be recorded as shadow matches ${when}; everyone joins as usual.`
    : `${who} will be refused ${what} ${when}; everyone else joins as usual.`;
}

/**
 * An enforcement event in plain words: the block took effect (who is refused, where) or was lifted (who
 * may join again). The event carries the scope it announced; the action is the order's (an amendment
 * does not change it).
 */
export function enforcementEventText(
  event: Pick<EnforcementChange, "type" | "target" | "jurisdictions">,
  action: OrderAction,
  lang: Language,
): string {
  const hosting = action === "prevent_hosting";
  const { lower, meetings, byAccount } = scopeWords(event.target, event.jurisdictions, hosting, lang);
  const effective = event.type === "block-effective";
  if (lang === "nl") {
    if (effective) {
      const what = hosting
        ? byAccount
          ? "kunnen geen enkele vergadering starten of hosten"
          : `kunnen ${meetings} niet starten of hosten`
        : `worden geweigerd voor ${byAccount ? "elke vergadering" : meetings}`;
      return `De blokkade is ingegaan: ${lower}, ${what}.`;
    }
    const what = hosting
      ? byAccount
        ? "mogen weer vergaderingen starten of hosten"
        : `mogen ${meetings} weer starten of hosten`
      : `mogen weer deelnemen aan ${byAccount ? "vergaderingen" : meetings}`;
    return `De blokkade is opgeheven: ${lower}, ${what}.`;
  }
  if (effective) {
    const what = hosting
      ? `cannot start or host ${byAccount ? "any meeting" : meetings}`
      : `are refused ${byAccount ? "every meeting" : meetings}`;
    return `The block took effect: ${lower} ${what}.`;
  }
  const what = hosting
    ? `may start or host ${byAccount ? "meetings" : meetings} again`
    : `may join ${byAccount ? "meetings" : meetings} again`;
  return `The block was lifted: ${lower} ${what}.`;
}
