#!/usr/bin/env node
/**
 * A Node.js runtime of another version, from the npm registry: the `node` package installs the
 * platform package `node-<platform>-<arch>` of the same version (through an install script); this
 * takes that platform package directly with `npm pack` (no install script, no package.json touched)
 * and unpacks it into a cache directory, where the next run finds it.
 *
 *   node scripts/node-from-registry.mjs 24.21.0     prints the path of its `node` binary
 *
 * The cache: $CORDON_NODE_CACHE, else $XDG_CACHE_HOME/cordon/node, else ~/.cache/cordon/node.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync } from "node:fs";
import { homedir } from "node:os";
import { join, resolve } from "node:path";

export function nodeCacheDir() {
  if (process.env.CORDON_NODE_CACHE) return resolve(process.env.CORDON_NODE_CACHE);
  return join(process.env.XDG_CACHE_HOME || join(homedir(), ".cache"), "cordon", "node");
}

/** The `node` binary of exactly `version` (say "24.21.0"), fetched once and then taken from the cache. */
export function nodeBinary(version) {
  if (!/^\d+\.\d+\.\d+$/.test(version)) throw new Error(`node version must be x.y.z, got "${version}"`);
  const pkg = `node-${process.platform}-${process.arch}`;
  const dir = join(nodeCacheDir(), `${pkg}-${version}`);
  const bin = join(dir, "bin", "node");
  if (!existsSync(bin)) {
    mkdirSync(nodeCacheDir(), { recursive: true });
    const tmp = mkdtempSync(join(nodeCacheDir(), ".fetch-"));
    try {
      // stdout is the tarball's name; npm's notices go to stderr.
      execFileSync("npm", ["pack", `${pkg}@${version}`, "--pack-destination", tmp, "--silent"], {
        stdio: ["ignore", "ignore", "inherit"],
      });
      const tarball = readdirSync(tmp).find((name) => name.endsWith(".tgz"));
      if (!tarball) throw new Error(`npm pack ${pkg}@${version} left no tarball`);
      execFileSync("tar", ["-xzf", join(tmp, tarball), "-C", tmp]);
      rmSync(dir, { recursive: true, force: true });
      renameSync(join(tmp, "package"), dir);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  }
  const reported = execFileSync(bin, ["--version"], { encoding: "utf8" }).trim();
  if (reported !== `v${version}`) throw new Error(`${bin} reports ${reported}, expected v${version}`);
  return bin;
}

if (process.argv[1] && resolve(process.argv[1]) === resolve(new URL(import.meta.url).pathname)) {
  const version = process.argv[2];
  if (!version || version === "--help" || version === "-h") {
    console.log("usage: node scripts/node-from-registry.mjs <x.y.z>   prints the path of that node binary");
    process.exit(version ? 0 : 2);
  }
  console.log(nodeBinary(version));
}
