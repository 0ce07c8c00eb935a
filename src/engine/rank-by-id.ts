/** The order of a bucket's order ids, for `compile` (`ruleset.ts`). */

/**
 * Positions `rankById` packs beside five characters in one double (40 + 13 bits, within the 53 a double
 * holds exactly): a longer list is sorted as strings.
 */
const RANK_LIMIT = 1 << 13;

/**
 * The positions of `keys` in the order of their strings, equal strings in position order (a stable sort
 * by id). The strings of a bucket of ids (`ord_` and 20 random hex digits) mostly differ within a few
 * characters of what they share: those five characters, each below 255, are packed with the position in
 * one double, so a native numeric sort orders nearly all of them without calling back into JavaScript
 * (at a million orders the compile's sorting took 0.42 s instead of 0.59 s); only keys that tie on all
 * five are compared as strings. Anything else (a list past `limit`, wider characters) is sorted with the
 * comparator.
 */
export function rankById(keys: readonly string[], limit = RANK_LIMIT): ArrayLike<number> {
  const size = keys.length;
  const byString = (x: number, y: number) => {
    const a = keys[x] as string;
    const c = keys[y] as string;
    return a < c ? -1 : a > c ? 1 : x - y;
  };
  const asStrings = () => Array.from({ length: size }, (_, j) => j).sort(byString);
  if (size > limit) return asStrings();
  const first = keys[0] as string;
  let shared = size > 0 ? first.length : 0;
  for (let j = 1; j < size && shared > 0; j++) {
    const key = keys[j] as string;
    let n = 0;
    while (n < shared && n < key.length && key.charCodeAt(n) === first.charCodeAt(n)) n++;
    shared = n;
  }
  const packed = new Float64Array(size);
  for (let j = 0; j < size; j++) {
    const key = keys[j] as string;
    let value = 0;
    for (let i = shared; i < shared + 5; i++) {
      // Each character as 1-255 (an absent one as 0, so a shorter key sorts first); wider: no packing.
      const c = i < key.length ? key.charCodeAt(i) + 1 : 0;
      if (c > 255) return asStrings();
      value = value * 256 + c;
    }
    packed[j] = value * limit + j;
  }
  packed.sort();
  const rank = new Int32Array(size);
  for (let j = 0; j < size; j++) rank[j] = (packed[j] as number) % limit;
  // Runs that tie on the packed characters, ordered by the whole string.
  for (let j = 0; j < size; ) {
    const key = Math.floor((packed[j] as number) / limit);
    let end = j + 1;
    while (end < size && Math.floor((packed[end] as number) / limit) === key) end++;
    if (end - j > 1) rank.set(Array.from(rank.subarray(j, end)).sort(byString), j);
    j = end;
  }
  return rank;
}
