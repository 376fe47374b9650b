/**
 * Simulated session lengths: sessions started from an empty state, as the log's sessions start,
 * stepped by a policy until the learned leave model ends them (or a step cap does), so that the
 * distribution of their lengths can be compared with the logged one (`recsimu fidelity --log`,
 * `lib/fidelity/session_fidelity.ts`).
 * @module
 */
import type { Dataset } from "../data/dataset.ts";
import { deriveSeed, Rng } from "../random.ts";
import { SimEnv, stepMany } from "./env.ts";
import type { LeaveModel } from "./leave.ts";
import type { SimulatorLike } from "./types.ts";

/** Options of {@link simulateSessionLengths}. */
export interface SessionLengthOptions {
  /** Simulated sessions. @default the number of `replay` sessions, else 1000 */
  sessions?: number;
  /**
   * `random`: each item uniform over the simulator's items; `replay`: session i recommends the
   * items of logged session `replay[i mod R]` in order, then uniform random items once they run
   * out (an item the simulator does not know is replaced by a random one too).
   * @default "replay" when `replay` is given, else "random"
   */
  policy?: "random" | "replay";
  /** Logged sessions' item ids, for the replay policy ({@link loggedItems} builds them). */
  replay?: readonly (readonly string[])[];
  /** Steps after which a session that has not ended is cut (counted as `truncated`). @default 1000 */
  maxSteps?: number;
  /** Root seed: session i's episode seed is `deriveSeed(seed, "session:<i>")`. @default 0 */
  seed?: number;
  /** Sessions stepped together (one batched prediction per step). @default 256 */
  batch?: number;
  /** Called after each batched step with the sessions ended so far and the total. @default none */
  onProgress?: (ended: number, total: number) => void;
}

/** What {@link simulateSessionLengths} returns. */
export interface SimulatedLengths {
  /** Length (items) of each simulated session, in session order. */
  lengths: Int32Array;
  /** Sessions cut at `maxSteps` before the user left. */
  truncated: number;
  /** The policy used. */
  policy: "random" | "replay";
  /** The step cap. */
  maxSteps: number;
}

/**
 * The item ids of the given logged sessions, in order (rows whose item has no id in the
 * vocabulary, such as a shared rare item, are left out): the replay policy's input.
 *
 * @example
 * ```ts
 * import { datasetFromText } from "../data/dataset.ts";
 * import { loggedItems } from "./session_lengths.ts";
 * const csv = "session_id,item_id,feedback\nu1,a,pos\nu1,b,neg\nu2,b,neg\n";
 * const ds = await datasetFromText(csv, "x.csv", { stateLength: 1, minCount: 1 });
 * loggedItems(ds, [0, 1]); // [["a", "b"], ["b"]]
 * ```
 */
export function loggedItems(ds: Dataset, sessions: ArrayLike<number>): string[][] {
  return Array.from({ length: sessions.length }, (_, i) => {
    const j = sessions[i]!;
    const out: string[] = [];
    for (let r = ds.sessionOffsets[j]!; r < ds.sessionOffsets[j + 1]!; r++) {
      const id = ds.items[ds.rowItem[r]!];
      if (id !== undefined) out.push(id);
    }
    return out;
  });
}

function checked(o: SessionLengthOptions) {
  const policy = o.policy ?? (o.replay !== undefined ? "replay" : "random");
  const sessions = o.sessions ?? o.replay?.length ?? 1000;
  const maxSteps = o.maxSteps ?? 1000;
  const batch = o.batch ?? 256;
  for (const [name, v] of [["sessions", sessions], ["maxSteps", maxSteps], ["batch", batch]]) {
    if (!Number.isSafeInteger(v) || (v as number) < 1) {
      throw new RangeError(`Cannot simulate sessions: ${name} must be an integer >= 1, got ${v}`);
    }
  }
  if (policy === "replay" && (o.replay === undefined || o.replay.length === 0)) {
    throw new RangeError("Cannot simulate sessions: the replay policy needs logged sessions");
  }
  return { policy, sessions, maxSteps, batch, seed: o.seed ?? 0, replay: o.replay ?? [] };
}

/**
 * Simulates sessions under the learned leave model `leave` and returns their lengths. Session i
 * starts from an empty state with episode seed `deriveSeed(seed, "session:<i>")`; its random
 * items come from `deriveSeed(seed, "policy:<i>")`. Reproducible for the same simulator and
 * options.
 *
 * @example
 * ```ts ignore
 * const leave = await loadLeaveModel("model/", sim.labels, sim.stateLength);
 * const { fit, heldout } = leaveSplit(ds, 0);
 * const sim_ = await simulateSessionLengths(sim, leave!, { replay: loggedItems(ds, heldout) });
 * // compare sim_.lengths with sessionLengths(ds, heldout)
 * ```
 */
export async function simulateSessionLengths(
  sim: SimulatorLike,
  leave: LeaveModel,
  options: SessionLengthOptions = {},
): Promise<SimulatedLengths> {
  const o = checked(options);
  const lengths = new Int32Array(o.sessions);
  let truncated = 0, ended = 0;
  for (let base = 0; base < o.sessions; base += o.batch) {
    const ids = Array.from({ length: Math.min(o.batch, o.sessions - base) }, (_, n) => base + n);
    const envs = ids.map((i) => {
      const env = new SimEnv(sim, { maxSteps: o.maxSteps, leave });
      env.reset({ seed: deriveSeed(o.seed, `session:${i}`), state: [] });
      return env;
    });
    const rngs = ids.map((i) => new Rng(deriveSeed(o.seed, `policy:${i}`)));
    const pick = (n: number): string => {
      const logged = o.policy === "replay" ? o.replay[ids[n]! % o.replay.length]! : [];
      const item = logged[envs[n]!.info.step];
      return item !== undefined && sim.hasItem(item)
        ? item
        : sim.items[rngs[n]!.int(sim.itemCount)]!;
    };
    let live = ids.map((_, n) => n);
    while (live.length > 0) {
      const results = await stepMany(live.map((n) => ({ env: envs[n]!, action: pick(n) })));
      results.forEach((r, m) => {
        if (!r.terminated && !r.truncated) return;
        lengths[ids[live[m]!]!] = r.info.step;
        if (!r.terminated) truncated++;
        ended++;
      });
      live = live.filter((n) => !envs[n]!.done);
      options.onProgress?.(ended, o.sessions);
    }
  }
  return { lengths, truncated, policy: o.policy, maxSteps: o.maxSteps };
}
