/**
 * Many policy episodes in lockstep: every episode is the truth's own runner (`runPolicy`), with
 * a responder that only queues the question; once every unfinished episode has asked, one
 * batched answer serves them all. A learned simulator then scores one batch per step instead of
 * one request per step and episode, and the episodes are exactly those `runPolicy` and
 * `policyValues` play (same seeds, label draws and leave rule).
 * @module
 */
import type { Probs, Step } from "../data/truth/world.ts";
import {
  type Episode,
  type PolicyEnv,
  type RunOptions,
  runPolicy,
  type TruthPolicy,
} from "../data/truth/policies.ts";

/** One episode to run. */
export interface LockstepEpisode {
  /** The policy. */
  readonly policy: TruthPolicy;
  /** Catalogue, start history and (for the oracle) the true user; the responder is the batch. */
  readonly env: Omit<PolicyEnv, "responder">;
  /** The episode's seed (labels and the policy's stream). */
  readonly seed: number;
}

/** One queued question: episode `episode` shows `item` after `history`. */
export interface PendingStep {
  /** Index of the episode in the list given to {@link runLockstep}. */
  readonly episode: number;
  /** The episode's observable history so far; it grows once the answer is back. */
  readonly history: readonly Step[];
  /** The item shown. */
  readonly item: number;
}

/** Answers a batch of questions, one probability triple each, in order. */
export type BatchAnswer = (steps: readonly PendingStep[]) => Promise<Probs[]>;

/** Options of {@link runLockstep}: {@link RunOptions} without the seed (each episode has one). */
export interface LockstepOptions extends Omit<RunOptions, "seed"> {
  /** Called after each batch with its size and the number of batches so far. */
  onBatch?: (size: number, batches: number) => void;
}

interface Waiting extends PendingStep {
  resolve: (p: Probs) => void;
  reject: (e: unknown) => void;
}

/**
 * Runs `episodes` together; returns their outcomes in order. `answer` is called once per round
 * with every unfinished episode's question (at most `horizon` rounds). A rejected answer fails
 * every episode of its round, and the run.
 */
export async function runLockstep(
  episodes: readonly LockstepEpisode[],
  answer: BatchAnswer,
  options: LockstepOptions,
): Promise<Episode[]> {
  const { onBatch, ...run } = options;
  let live = episodes.length;
  let queue: Waiting[] = [];
  let batches = 0;
  // Every unfinished episode has at most one question queued, so a full queue means all asked.
  const flush = () => {
    if (queue.length === 0 || queue.length < live) return;
    const round = queue;
    queue = [];
    // Through a resolved promise: an answer that throws at once rejects the round, not one step.
    Promise.resolve(round).then(answer).then((probs) => {
      batches++;
      onBatch?.(round.length, batches);
      round.forEach((w, i) => w.resolve(probs[i]!));
    }, (e) => round.forEach((w) => w.reject(e)));
  };
  const runs = episodes.map((e, index) =>
    runPolicy(e.policy, {
      ...e.env,
      responder: (history, item) =>
        new Promise<Probs>((resolve, reject) => {
          queue.push({ episode: index, history, item, resolve, reject });
          flush();
        }),
    }, { ...run, seed: e.seed }).finally(() => {
      live--;
      flush();
    })
  );
  return await Promise.all(runs);
}
