/**
 * The jurisdiction table over the API (I1) and the precision warnings: overseas territories, territories
 * with their own legal order, GB's constituent countries, unlocatable codes, and orders a Country
 * database cannot enforce. Real mmdbs written for the places these tests need.
 */
import { afterEach, describe, expect, it } from "vitest";
import { MaxmindGeo } from "../../src/geo/maxmind-geo.js";
import { signInHttp } from "../support/console-http.js";
import { CITY_BUILD_EPOCH, countryDatabase } from "../support/fixtures.js";
import { approvedOrder, type Harness, makeHarness, orderInput, secretOf } from "../support/harness.js";
import { cityRecord, writeMmdb } from "../support/mmdb-writer.js";

const PLACES = {
  pointeAPitre: { ip: "104.28.1.20", record: cityRecord({ country: "GP", city: "Pointe-à-Pitre" }) },
  glasgow: {
    ip: "104.29.1.20",
    record: cityRecord({ country: "GB", subdivisions: ["GB-SCT", "GB-GLG"], city: "Glasgow" }),
  },
  canterbury: {
    ip: "104.30.1.20",
    record: cityRecord({ country: "GB", subdivisions: ["GB-ENG", "GB-KEN"], city: "Canterbury" }),
  },
  hongKong: { ip: "104.31.1.20", record: cityRecord({ country: "HK", city: "Hong Kong" }) },
};

const cityGeo = () =>
  MaxmindGeo.fromBuffer(
    writeMmdb({
      databaseType: "GeoIP2-City",
      ipVersion: 6,
      buildEpoch: CITY_BUILD_EPOCH,
      networks: Object.values(PLACES).map((p) => ({ cidr: `${p.ip.slice(0, -5)}.0.0/16`, data: p.record })),
    }),
    "test:city",
  );

let h: Harness;
afterEach(() => h.close());

const MEETING = "81234567890";
const authority = (jurisdiction: string) => ({
  name: `Court of ${jurisdiction}`,
  jurisdiction,
  kind: "court",
});
const create = (jurisdiction: string, blocks: string[]) =>
  h.call("POST", "/v1/orders", {
    as: "responder",
    body: orderInput({ authority: authority(jurisdiction), jurisdictions: blocks }),
  });
const check = async (ip: string) =>
  (await h.call("POST", "/v1/check", { as: "checker", body: { meetingId: MEETING, ip } })).body;

describe("the jurisdiction table at the API", () => {
  it("stores a French block on FR-971 as GP and denies a participant located in Guadeloupe", async () => {
    h = await makeHarness({ geo: cityGeo() });
    const created = await create("FR", ["FR-971"]);
    expect(created.status).toBe(201);
    expect(created.body.jurisdictions).toEqual(["GP"]);
    expect(created.body.requested.jurisdictions).toEqual(["FR-971"]);
    await approvedOrder(h, { authority: authority("FR"), jurisdictions: ["FR"] });
    expect(await check(PLACES.pointeAPitre.ip)).toMatchObject({ decision: "deny", jurisdiction: "FR" });
  });

  it("refuses a Chinese authority's block on CN-HK with 422 SEPARATE_LEGAL_ORDER, and a national order does not reach HK", async () => {
    h = await makeHarness({ geo: cityGeo() });
    const res = await create("CN", ["CN-HK"]);
    expect(res.status).toBe(422);
    expect(res.body.error.code).toBe("SEPARATE_LEGAL_ORDER");
    expect(res.body.error.issues[0].path).toBe("jurisdictions");
    await approvedOrder(h, { authority: authority("CN"), jurisdictions: ["CN"] });
    expect(await check(PLACES.hongKong.ip)).toMatchObject({
      decision: "allow",
      code: "OUTSIDE_JURISDICTION",
    });
  });

  it("refuses a block on NO-21 with 422 UNLOCATABLE_JURISDICTION, saying to block SJ", async () => {
    h = await makeHarness({ geo: cityGeo() });
    const res = await create("NO", ["NO-21"]);
    expect(res.status).toBe(422);
    expect(res.body.error.code).toBe("UNLOCATABLE_JURISDICTION");
    expect(res.body.error.message).toContain("SJ");
  });

  it("lets a Scottish authority block Glasgow, denying there and not in Kent", async () => {
    h = await makeHarness({ geo: cityGeo() });
    await approvedOrder(h, { authority: authority("GB-SCT"), jurisdictions: ["GB-GLG"] });
    expect(await check(PLACES.glasgow.ip)).toMatchObject({ decision: "deny", jurisdiction: "GB-GLG" });
    expect(await check(PLACES.canterbury.ip)).toMatchObject({ decision: "allow" });
  });

  it("denies in Kent under an English authority's order on England", async () => {
    h = await makeHarness({ geo: cityGeo() });
    await approvedOrder(h, { authority: authority("GB-ENG"), jurisdictions: ["GB-ENG"] });
    expect(await check(PLACES.canterbury.ip)).toMatchObject({ decision: "deny", jurisdiction: "GB-ENG" });
  });
});

describe("precision warnings", () => {
  it("accepts a subdivision order with a Country database, with NEEDS_CITY_DATABASE on create, read, list, approve and the ruleset", async () => {
    h = await makeHarness({ geo: MaxmindGeo.fromBuffer(countryDatabase(), "test:country") });
    const created = await h.call("POST", "/v1/orders", { as: "responder", body: orderInput() });
    expect(created.status).toBe(201);
    const warning = {
      code: "NEEDS_CITY_DATABASE",
      jurisdictions: ["IN-MH"],
      message: expect.stringContaining("until a City database is configured"),
    };
    expect(created.body.warnings).toEqual([warning]);
    const id = created.body.id;
    expect((await h.call("GET", `/v1/orders/${id}`, { as: "auditor" })).body.warnings).toEqual([warning]);
    expect((await h.call("GET", "/v1/orders", { as: "auditor" })).body.orders[0].warnings).toEqual([warning]);
    const approved = await h.call("POST", `/v1/orders/${id}/approve`, { as: "approver", body: {} });
    expect(approved.body.warnings).toEqual([warning]);
    const ruleset = await h.call("GET", "/v1/ruleset", { as: "auditor" });
    expect(ruleset.body.warnings).toEqual([{ orderId: id, ...warning }]);
  });

  it("gives no warning for a country order with a Country database, nor for any order with a City database", async () => {
    h = await makeHarness({ geo: MaxmindGeo.fromBuffer(countryDatabase(), "test:country") });
    const country = await h.call("POST", "/v1/orders", {
      as: "responder",
      body: orderInput({ jurisdictions: ["IN"] }),
    });
    expect(country.body.warnings).toBeUndefined();
    await h.close();
    h = await makeHarness();
    const sub = await h.call("POST", "/v1/orders", { as: "responder", body: orderInput() });
    expect(sub.body.warnings).toBeUndefined();
    await approvedOrder(h);
    expect((await h.call("GET", "/v1/ruleset", { as: "auditor" })).body.warnings).toEqual([]);
  });
});

describe("precision warnings in the console", () => {
  const BASE = "http://localhost";
  const form = (intent: string) => ({
    intent,
    reference: "WP/1234/2026",
    authorityName: "Bombay High Court",
    authorityKind: "court",
    country: "IN",
    jurisdictions: "IN-MH",
    targetKind: "meeting",
    targetIds: MEETING,
    receivedAt: "2026-02-20",
    mode: "enforce",
  });

  it("warns in the new-order preview and on the order page, in English and Dutch", async () => {
    h = await makeHarness({ geo: MaxmindGeo.fromBuffer(countryDatabase(), "test:country") });
    const send = async (path: string, init: RequestInit) => h.app.request(path, init);
    const responder = await signInHttp(send, BASE, secretOf("responder"));
    const preview = await (await responder.post("/console/orders/new", form("preview"))).text();
    expect(preview).toContain("will not deny anyone there until a City database is configured");
    const submitted = await responder.post("/console/orders/new", form("submit"));
    expect(submitted.status).toBe(303);
    const location = submitted.headers.get("location") as string;
    expect(await (await responder.get(location)).text()).toContain("until a City database is configured");
    const dutch = await (await responder.get(`${location}&lang=nl`)).text();
    expect(dutch).toContain("tot er een City-database is ingesteld");
  });

  it("does not warn with a City database", async () => {
    h = await makeHarness();
    const send = async (path: string, init: RequestInit) => h.app.request(path, init);
    const responder = await signInHttp(send, BASE, secretOf("responder"));
    const preview = await (await responder.post("/console/orders/new", form("preview"))).text();
    expect(preview).toContain('id="preview-text"');
    expect(preview).not.toContain("City database");
  });

  it("offers Guadeloupe among France's places and enters a French block on it", async () => {
    h = await makeHarness();
    const send = async (path: string, init: RequestInit) => h.app.request(path, init);
    const responder = await signInHttp(send, BASE, secretOf("responder"));
    const page = await (
      await responder.post("/console/orders/new", { ...form("regions"), country: "FR", jurisdictions: [] })
    ).text();
    expect(page).toContain('value="GP"');
    const res = await responder.post("/console/orders/new", {
      ...form("submit"),
      authorityName: "Tribunal judiciaire de Paris",
      country: "FR",
      jurisdictions: "GP",
    });
    expect(res.status).toBe(303);
    const orders = (await h.call("GET", "/v1/orders", { as: "auditor" })).body.orders;
    expect(orders[0].jurisdictions).toEqual(["GP"]);
  });
});
