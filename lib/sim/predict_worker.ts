/**
 * A prediction lane of {@link PooledSimulator} (./pool.ts) in a Deno Worker: it loads the same
 * checkpoint with its own TensorFlow.js backend and answers `predictArrays` for the share of a
 * batch the main thread sends it, so a second core computes while the first does.
 *
 * Messages in: `{ kind: "load", dir, backend, userModel, realScore }` once, then `{ kind: "predict", id, requests }`.
 * Out: `{ kind: "ready" }` or `{ kind: "failed", message }` for the load; `{ kind: "answers", id,
 * answers }` or `{ kind: "error", id, message, user }` per prediction (`user`: a `UserError`, i.e.
 * bad input, which the pool re-raises from the main thread with the right request index).
 * @module
 */
/// <reference lib="deno.worker" />
import { UserError } from "../errors.ts";
import type { BackendName } from "../tf.ts";
import { Simulator } from "./simulator.ts";
import type { LaneLoadOptions } from "./pool.ts";
import type { FeedbackRequest } from "./types.ts";

/** What the pool sends. */
export type LaneRequest =
  | ({ kind: "load"; dir: string; backend: BackendName } & LaneLoadOptions)
  | { kind: "predict"; id: number; requests: FeedbackRequest[] };

let sim: Simulator | undefined;

self.onmessage = async (e: MessageEvent<LaneRequest>) => {
  const m = e.data;
  if (m.kind === "load") {
    try {
      sim = await Simulator.load(m.dir, {
        backend: m.backend,
        userModel: m.userModel,
        realScore: m.realScore,
      });
      self.postMessage({ kind: "ready" });
    } catch (err) {
      self.postMessage({ kind: "failed", message: (err as Error).message });
    }
    return;
  }
  try {
    if (!sim) throw new Error("predict before load");
    const answers = await sim.predictArrays(m.requests);
    self.postMessage({ kind: "answers", id: m.id, answers });
  } catch (err) {
    const user = err instanceof UserError;
    self.postMessage({ kind: "error", id: m.id, message: (err as Error).message, user });
  }
};
