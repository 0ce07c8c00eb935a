/** The Authenticator: one principal per secret, and names unique regardless of case (I7). */
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
});
