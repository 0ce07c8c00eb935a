/**
 * A promise that resolves on a later turn of the event loop (a macrotask): what a long piece of work
 * (a compile, a reconcile or a snapshot of a million orders) awaits between its slices, so that checks
 * are answered meanwhile. `setImmediate` where the runtime has it (Node), else `setTimeout(0)` (workerd).
 */
export function macrotask(): Promise<void> {
  return new Promise((resolve) => {
    const immediate = (globalThis as { setImmediate?: (fn: () => void) => unknown }).setImmediate;
    if (immediate) immediate(resolve);
    else setTimeout(resolve, 0);
  });
}
