/**
 * Prompt garbage collection between the phases of a large job.
 *
 * V8 collects old-generation garbage lazily: after loading an 8 M-row log, the builder's
 * temporary columns and strings (hundreds of megabytes) stay resident until the heap has grown
 * far enough, and the next phase's allocations stack on top of them. A full collection at a
 * phase boundary (log loaded, embeddings trained, model built) keeps the peak near the live set.
 * V8 exposes `gc()` only with `--expose-gc`; Node's documented route to it from a running
 * program (`v8.setFlagsFromString` + a `vm` context) works under Deno too. Where it does not
 * (another runtime), this is a no-op and V8 collects on its own schedule.
 * @module
 */
import v8 from "node:v8";
import vm from "node:vm";

let gcFn: (() => void) | null | undefined;

/** Runs a full garbage collection if the runtime allows it; returns whether it did. */
export function collectGarbage(): boolean {
  if (gcFn === undefined) {
    gcFn = null;
    try {
      const g = (globalThis as { gc?: () => void }).gc;
      if (typeof g === "function") gcFn = g;
      else {
        v8.setFlagsFromString("--expose-gc");
        const f = vm.runInNewContext("gc");
        if (typeof f === "function") gcFn = f as () => void;
      }
    } catch {
      gcFn = null;
    }
  }
  if (!gcFn) return false;
  gcFn();
  return true;
}
