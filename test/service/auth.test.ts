/** The Authenticator: one principal per secret, and names unique regardless of case (I7). */

import { hexToBytes } from "@noble/hashes/utils.js";
import { describe, expect, it } from "vitest";
import { Authenticator, digestSecret } from "../../src/service/auth.js";

const token = (principal: string, role: "responder" | "approver", secret: string) => ({
  principal,
  role,
  sha256: digestSecret(secret),
});

describe("Authenticator", () => {
  it("finds the one principal holding a secret", () => {
    const auth = new Authenticator([
      token("ana", "responder", "secret-of-ana-0000"),
      token("bo", "approver", "secret-of-bo-00000"),
    ]);
    expect(auth.authenticate("secret-of-bo-00000")).toEqual({ name: "bo", role: "approver" });
    expect(auth.authenticate("secret-of-nobody-0")).toBeNull();
  });

  it("refuses to be built with one secret for two principals, rather than letting the later win", () => {
    expect(
      () =>
        new Authenticator([
          token("resp", "responder", "one-shared-secret-0"),
          token("appr", "approver", "one-shared-secret-0"),
        ]),
    ).toThrow(/entries 1 \(resp\) and 2 \(appr\) have the same secret/);
  });

  it("refuses two principals whose names differ only in case", () => {
    expect(
      () =>
        new Authenticator([
          token("Bob", "responder", "secret-of-bob-0000"),
          token("bob", "approver", "secret-of-bob-1111"),
        ]),
    ).toThrow(/entries 1 and 2 name the same principal \(Bob, bob\)/);
  });

  it("hashes each distinct valid secret once, however often it is presented", () => {
    const digested: string[] = [];
    const counting = (secret: string) => {
      digested.push(secret);
      return hexToBytes(digestSecret(secret));
    };
    const auth = new Authenticator(
      [token("ana", "responder", "secret-of-ana-0000"), token("bo", "approver", "secret-of-bo-00000")],
      counting,
    );
    for (let i = 0; i < 5; i++) {
      expect(auth.authenticate("secret-of-ana-0000")).toEqual({ name: "ana", role: "responder" });
      expect(auth.authenticate("secret-of-bo-00000")).toEqual({ name: "bo", role: "approver" });
    }
    expect(digested).toEqual(["secret-of-ana-0000", "secret-of-bo-00000"]);
  });

  it("never remembers a refused secret: each attempt is hashed and compared again", () => {
    let digests = 0;
    const auth = new Authenticator([token("ana", "responder", "secret-of-ana-0000")], (secret) => {
      digests++;
      return hexToBytes(digestSecret(secret));
    });
    for (let i = 0; i < 3; i++) expect(auth.authenticate("secret-of-nobody-0")).toBeNull();
    expect(digests).toBe(3);
  });

  it("does not answer a revoked or changed secret from what an earlier token list matched", () => {
    const before = new Authenticator([token("ana", "responder", "secret-of-ana-0000")]);
    expect(before.authenticate("secret-of-ana-0000")).toEqual({ name: "ana", role: "responder" });
    // Tokens change by building a new list: ana's secret rotated, bo's role changed.
    const after = new Authenticator([
      token("ana", "responder", "secret-of-ana-1111"),
      token("bo", "approver", "secret-of-bo-00000"),
    ]);
    expect(after.authenticate("secret-of-ana-0000")).toBeNull();
    expect(after.authenticate("secret-of-ana-1111")).toEqual({ name: "ana", role: "responder" });
    const demoted = new Authenticator([token("bo", "responder", "secret-of-bo-00000")]);
    expect(after.authenticate("secret-of-bo-00000")).toEqual({ name: "bo", role: "approver" });
    expect(demoted.authenticate("secret-of-bo-00000")).toEqual({ name: "bo", role: "responder" });
  });
});
