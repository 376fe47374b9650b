/**
 * Test helpers: tiny logs and configurations small enough for CI on 2 cores.
 * @module
 */
import { TRAIN_DEFAULTS, type TrainConfig } from "../lib/config.ts";
import { SYNTH_DEFAULTS, synthRows } from "../lib/data/synth.ts";
import type { TruthWriteOptions } from "../lib/data/truth/write.ts";
import { OUTPUT_MARKER } from "../lib/output.ts";

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

/**
 * A copy of the checkpoint `from` in the new folder `to` without its file `name`, as an older
 * recsimu wrote it: the file and its marker entry are left out.
 */
export async function checkpointWithout(from: string, to: string, name: string): Promise<void> {
  await Deno.mkdir(to);
  for await (const e of Deno.readDir(from)) {
    if (e.isFile && e.name !== name) await Deno.copyFile(`${from}/${e.name}`, `${to}/${e.name}`);
  }
  const markerFile = `${to}/${OUTPUT_MARKER}`;
  const marker = JSON.parse(await Deno.readTextFile(markerFile));
  delete marker.files[name];
  await Deno.writeTextFile(markerFile, JSON.stringify(marker));
}

/** A tiny truth world (120 items, 120 sessions, 60 cases, 6 start states × 2 rollouts × 5 steps). */
export function tinyTruth(seed: number): TruthWriteOptions {
  return {
    preset: "base",
    seed,
    params: { items: 120, categories: 6 },
    sessions: 120,
    cases: 60,
    startStates: 6,
    rollouts: 2,
    horizon: 5,
  };
}
