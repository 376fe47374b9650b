import { assert } from "../_assert.ts";
import { collectGarbage } from "../../lib/memory.ts";

/** A WeakRef to an array nobody else holds; made in its own function so no local keeps it. */
function unreachable(): WeakRef<Float64Array> {
  return new WeakRef(new Float64Array(1 << 20).fill(1));
}

Deno.test("collectGarbage() runs a full collection under Deno: an unreachable array is collected", async () => {
  const ref = unreachable();
  // WeakRef targets are kept until the end of the job that made them: collect in a later task.
  await new Promise((r) => setTimeout(r, 0));
  assert(collectGarbage(), "gc is reachable from a running Deno program");
  assert(ref.deref() === undefined, "the unreachable array was collected by the full collection");
  const kept = new Float64Array(8).fill(2);
  const keptRef = new WeakRef(kept);
  await new Promise((r) => setTimeout(r, 0));
  assert(collectGarbage(), "and again");
  assert(keptRef.deref() === kept, "a reachable array survives");
});
