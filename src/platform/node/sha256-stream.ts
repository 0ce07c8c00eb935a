/**
 * The ruleset hash's SHA-256 on Node: `node:crypto`'s native one, handed to the engine's compile (which
 * defaults to a portable one in JavaScript). Same digest, several times faster over a million orders.
 */
import { createHash } from "node:crypto";
import type { Sha256Stream } from "../../engine/index.js";

export function nodeSha256(): Sha256Stream {
  const hash = createHash("sha256");
  return {
    update: (data) => {
      if (typeof data === "string") hash.update(data, "utf8");
      else hash.update(data);
    },
    hex: () => hash.digest("hex"),
  };
}
