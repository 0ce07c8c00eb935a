/**
 * GET /v1/reports/{period}/manifest: the signed manifest of a finalized period (I9), 404 unless
 * finalized. Also the manifest's schema, which the finalize route answers too.
 */
import { NotFoundError } from "../../kernel/errors.js";
import { errors, json, z } from "../openapi.js";
import { guardedRoute } from "../route.js";
import type { App, ServerServices } from "../services.js";
import { PeriodParams, periodOf } from "./v1-reports.js";

const Hex64 = z.string().regex(/^[0-9a-f]{64}$/);

export const ManifestSchema = z
  .object({
    v: z.literal(1),
    period: z.string().meta({ example: "2026-H1" }),
    finalizedAt: z.string().meta({ description: "Also the frozen report's generatedAt." }),
    sha256: z.object({ json: Hex64, csv: Hex64, "html-en": Hex64, "html-nl": Hex64 }).meta({
      description: "SHA-256 of each frozen format's bytes, as GET /v1/reports/{period} serves them.",
    }),
    counts: z.object({
      requests: z.number().int(),
      pendingAtEnd: z.number().int(),
      deniedJoins: z.number().int(),
      shadowMatches: z.number().int(),
      lateRecords: z.number().int(),
    }),
    audit: z
      .object({ seq: z.number().int(), hash: Hex64 })
      .meta({ description: "The audit chain's head the report's orders were read at." }),
    records: z.object({ count: z.number().int(), merkleRoot: Hex64 }).meta({
      description: "The period's decision records: count and Merkle root (README, Finalized reports).",
    }),
    late: z
      .object({ count: z.number().int(), merkleRoot: Hex64 })
      .meta({ description: "Late records from finalized periods counted in this one, the same way." }),
    signer: z.object({
      alg: z.literal("Ed25519"),
      keyId: z.string(),
      publicKey: z.string().meta({ description: "Raw 32-byte Ed25519 public key, base64." }),
    }),
    signature: z.string().meta({
      description:
        "Ed25519 over the UTF-8 bytes of the canonical JSON (keys sorted, no spaces) of every other field, base64url.",
    }),
  })
  .meta({ id: "ReportManifest" });

const route = (s: ServerServices) =>
  guardedRoute(s.auth, "readReports", {
    method: "get",
    path: "/v1/reports/{period}/manifest",
    tags: ["reporting"],
    operationId: "getReportManifest",
    summary: "The signed manifest of a finalized period",
    request: { params: PeriodParams },
    responses: { 200: json(ManifestSchema, "The manifest."), ...errors(400, 404, 503) },
  });

export function registerReportManifest(app: App, s: ServerServices): void {
  app.openapi(route(s), async (c) => {
    const period = periodOf(c.req.valid("param").period);
    const manifest = await s.reports.manifest(period);
    if (manifest === undefined) throw new NotFoundError(`${period.id} is not finalized`);
    return c.json(manifest, 200);
  });
}
