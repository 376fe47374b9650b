/**
 * Test helpers: tiny logs and configurations small enough for CI on 2 cores.
 * @module
 */
import { TRAIN_DEFAULTS, type TrainConfig } from "../lib/config.ts";
import { SYNTH_DEFAULTS, synthRows } from "../lib/data/synth.ts";

/** CSV text of a seeded synthetic log. */
export function synthText(
  opts: {
    seed?: number;
    sessions?: number;
    items?: number;
    categories?: number;
    minLength?: number;
    maxLength?: number;
  } = {},
): string {
  const lines = ["session_id,item_id,feedback,timestamp"];
  for (const r of synthRows({ ...SYNTH_DEFAULTS, ...opts, seed: opts.seed ?? 0 })) {
    lines.push(`${r.session},${r.item},${r.feedback},${r.timestamp}`);
  }
  return lines.join("\n") + "\n";
}

/** A small, fast training configuration. */
export function tinyConfig(over: Partial<TrainConfig> = {}): TrainConfig {
  return {
    ...TRAIN_DEFAULTS,
    positive: [...TRAIN_DEFAULTS.positive],
    stateLength: 5,
    minStateLength: 5,
    minCount: 1,
    embDim: 8,
    feedbackDim: 4,
    hidden: 16,
    fc: 16,
    batch: 64,
    preGEpochs: 1,
    preDEpochs: 1,
    epochs: 1,
    ...over,
  };
}

/** A temporary directory removed by the returned function. */
export async function tempDir(): Promise<{ path: string; [Symbol.asyncDispose](): Promise<void> }> {
  const path = await Deno.makeTempDir({ prefix: "recsimu-test-" });
  return {
    path,
    [Symbol.asyncDispose]: () => Deno.remove(path, { recursive: true }).catch(() => {}),
  };
}
