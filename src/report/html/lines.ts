/** Block-level children one per line, so the page's source reads as it did when written by hand. */
import type { Child } from "hono/jsx";

/** `<x>{lines(a, b)}</x>` renders `<x>\na\nb\n</x>`; null, undefined and false render nothing. */
export function lines(...children: Child[]): Child[] {
  const out: Child[] = ["\n"];
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    out.push(child, "\n");
  }
  return out;
}
