/**
 * The files of `swagger-ui-dist` for `GET /docs` (`http/docs.ts`), read from node_modules on first use and
 * kept in memory (about 1.9 MB). Only the names the page loads are asked for.
 */
import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";

export function nodeDocsAssets(): (name: string) => Promise<string> {
  const require = createRequire(import.meta.url);
  const cache = new Map<string, Promise<string>>();
  return (name) => {
    let text = cache.get(name);
    if (!text) {
      text = readFile(require.resolve(`swagger-ui-dist/${name}`), "utf8");
      text.catch(() => cache.delete(name));
      cache.set(name, text);
    }
    return text;
  };
}
