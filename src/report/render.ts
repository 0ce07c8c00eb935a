/**
 * The report's three publications, for the route and the CLI: JSON (exact numbers, `render-json.ts`),
 * the CSV dataset (`render-csv.ts`) and the HTML page in English or Dutch (`html/page.tsx`).
 */

export { renderHtml } from "./html/page.js";
export { CSV_HEADER, renderCsv } from "./render-csv.js";
export { DEFINITIONS, renderJson } from "./render-json.js";
