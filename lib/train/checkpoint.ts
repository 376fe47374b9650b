/**
 * Checkpoint directory: everything needed to predict, evaluate, serve or resume.
 *
 *   config.json      format version, every hyperparameter, labels, seed, data fingerprint,
 *                    versions, backend, training position (phase, epoch)
 *   vocab.json       item ids in class order
 *   embeddings.bin   frozen item embeddings, float32 [V, E]
 *   weights.bin/json G and D parameters (name, shape, byte offset; sha256 of the .bin)
 *   optimizer.bin/json Adam state of G and D, for --resume
 *   best.bin/json    the weights of the best validation AUC so far, for --resume with --patience
 *                    (written while training runs; a finished run's weights are the best ones)
 *   history.json     per-epoch losses and validation metrics
 *   start_states.json real start states for environments
 *   metrics.json     test metrics (written by train and eval)
 *   item_features.json  `--item-features`: columns, their values and the codes [V + 2, F]
 *                    aligned with vocab.json (only when the config has itemFeatures)
 *   leave.json       the learned leave model (written by train after the run; optional:
 *                    checkpoints from before it have none)
 *   support.json     the support model, and glm.json the structured user model
 *                    (`--user-model glm`), both written by train after the run (optional too)
 *   .recsimu-output.json  the marker: kind "checkpoint" and the sha256 of every file above
 *
 * The directory is written to a temporary sibling and renamed into place, so a crash leaves
 * either the previous or the new complete checkpoint. Loading verifies every file it reads
 * against the marker's sha256.
 * @module
 */
import { basename, dirname, join } from "node:path";
import { createHash } from "node:crypto";
import { tf } from "../tf.ts";
import { writeDirAtomic, writeFileAtomic, writeFileSynced } from "../atomic.ts";
import {
  BACKUP_PREFIX,
  entryOf,
  fsUserError,
  inspectOutput,
  type MarkedEntry,
  markerText,
  OUTPUT_MARKER,
  type OutputMarker,
  readMarker,
  sha256,
} from "../output.ts";
import { RECSIMU_VERSION } from "../version.ts";
import {
  type ItemFeatures,
  itemFeaturesJson,
  parseItemFeaturesJson,
} from "../data/item_features.ts";
import { CheckpointError } from "../errors.ts";
import { type TrainConfig, withArchDefaults } from "../config.ts";
import type { StepRecord } from "../data/pair.ts";
import type { ModelShape } from "../../models/recsimu.ts";
import { logicalName } from "../../models/params.ts";
import type { RecSimuTrainer } from "./trainer.ts";
import type { CalibrationMap, ModelCalibration } from "../eval/calibration.ts";
import type { PropensitySummary } from "./propensity.ts";

/** The checkpoint's item side features (`--item-features`). */
export const ITEM_FEATURES_FILE = "item_features.json";

/** Checkpoint format version; a different one is refused. */
export const CHECKPOINT_FORMAT = 1;
/** Program version recorded in outputs. */
export { RECSIMU_VERSION };

/** Where training stands, for --resume. */
export interface TrainingPosition {
  /** Phase the next epoch belongs to. */
  phase: "pre_g" | "pre_d" | "adv" | "done";
  /** Epochs of that phase already finished. */
  epoch: number;
  /** Steps of the unfinished epoch already done (training was stopped mid-epoch), else 0. */
  step: number;
  /** Running loss sums of the unfinished epoch. */
  partial?: Record<string, number>;
  /** Best validation AUC so far and the epoch counter since it improved. */
  bestValAuc: number;
  sinceBest: number;
}

/** config.json. */
export interface CheckpointMeta {
  format: number;
  recsimu: string;
  config: TrainConfig;
  shape: ModelShape;
  labels: string[];
  positive: boolean[];
  data: { file: string; fingerprint: string; stats: unknown };
  embeddings: { source: string; [k: string]: unknown };
  versions: { tfjs: string; deno: string; v8: string; typescript: string };
  backend: string;
  position: TrainingPosition;
  created: string;
  /**
   * The temperature (and biases) fitted after training (`--calibrate`) and its validation
   * figures; absent (checkpoints written before it, `--calibrate none`, runs not finished) means
   * T = 1.
   */
  calibration?: ModelCalibration;
  /**
   * Out-of-distribution thresholds fitted after training: `realThreshold`, the 1st percentile
   * of D's real score on the validation tuples (answers below it get `ood.low_real`).
   */
  ood?: { realThreshold: number };
  /**
   * `--propensity-clip`: the fitted logging policy and what the weights did (the weights
   * themselves go to optimizer.bin, for --resume).
   */
  propensity?: PropensitySummary;
}

/**
 * The temperature a checkpoint answers with: its calibration's, or 1 without one.
 *
 * @example
 * ```ts
 * import { checkpointTemperature } from "./checkpoint.ts";
 * checkpointTemperature({}); // 1
 * ```
 */
export function checkpointTemperature(meta: Pick<CheckpointMeta, "calibration">): number {
  return meta.calibration?.temperature ?? 1;
}

/**
 * The calibration a checkpoint answers with, softmax(ln p / T + b): its temperature and, for
 * `temperature-bias`, its biases; T = 1 and no bias without one.
 *
 * @example
 * ```ts
 * import { checkpointCalibration } from "./checkpoint.ts";
 * checkpointCalibration({}); // { temperature: 1 }
 * ```
 */
export function checkpointCalibration(meta: Pick<CheckpointMeta, "calibration">): CalibrationMap {
  const c = meta.calibration;
  return c?.bias
    ? { temperature: c.temperature, bias: c.bias }
    : { temperature: c?.temperature ?? 1 };
}

/** Refuses a config.json whose calibration is not a usable temperature (and bias). */
function checkCalibration(meta: CheckpointMeta, dir: string): void {
  const c = meta.calibration;
  if (c === undefined) return;
  const t = c?.temperature, b = c?.bias, K = meta.labels?.length;
  const okT = typeof t === "number" && t > 0 && Number.isFinite(t);
  const okB = c?.method === "temperature" ? b === undefined : Array.isArray(b) && b.length === K &&
    b.every((x) => typeof x === "number" && Number.isFinite(x));
  if ((c?.method !== "temperature" && c?.method !== "temperature-bias") || !okT || !okB) {
    throw new CheckpointError(
      `"${
        join(dir, "config.json")
      }": calibration must be { method: "temperature", temperature > 0 } or { method: "temperature-bias", temperature > 0, bias: ${K} finite numbers }, got ${
        JSON.stringify(c)
      }`,
    );
  }
}

/** Named float32 tensors as plain arrays: what a `.bin`/`.json` pair of a checkpoint holds. */
export type TensorMap = Map<string, { shape: number[]; data: Float32Array }>;

/** Everything in a checkpoint, in memory. */
export interface CheckpointData {
  meta: CheckpointMeta;
  items: string[];
  embeddings: Float32Array;
  /** Item side features (when `meta.config.itemFeatures` is set). */
  itemFeatures?: ItemFeatures;
  weights: TensorMap;
  /** Adam state of G and D (names `G:…`, `D:…`); loaded with `{ optimizer: true }`. */
  optimizer?: TensorMap;
  /** The best weights so far under --patience; loaded with `{ optimizer: true }`. */
  best?: TensorMap;
  history: unknown[];
  startStates: StepRecord[][];
  metrics?: unknown;
}

interface Manifest {
  sha256: string;
  tensors: { name: string; shape: number[]; offset: number; length: number }[];
}

function packTensors(
  map: TensorMap,
): { bin: Uint8Array; manifest: Manifest } {
  let total = 0;
  for (const t of map.values()) total += t.data.length;
  const all = new Float32Array(total);
  const tensors: Manifest["tensors"] = [];
  let off = 0;
  for (const [name, t] of map) {
    all.set(t.data, off);
    tensors.push({ name, shape: t.shape, offset: off * 4, length: t.data.length });
    off += t.data.length;
  }
  const bin = new Uint8Array(all.buffer);
  return { bin, manifest: { sha256: createHash("sha256").update(bin).digest("hex"), tensors } };
}

async function unpackTensors(
  read: (name: string) => Promise<Uint8Array>,
  dir: string,
  base: string,
): Promise<TensorMap> {
  const manifest = JSON.parse(new TextDecoder().decode(await read(`${base}.json`))) as Manifest;
  const bin = await read(`${base}.bin`);
  const sha = createHash("sha256").update(bin).digest("hex");
  if (sha !== manifest.sha256) {
    throw new CheckpointError(
      `"${join(dir, `${base}.bin`)}" is corrupted (sha256 mismatch); restore it or retrain`,
    );
  }
  const f32 = new Float32Array(bin.buffer, bin.byteOffset, bin.byteLength / 4);
  const out: TensorMap = new Map();
  for (const t of manifest.tensors) {
    const n = t.shape.reduce((a, b) => a * b, 1);
    if (n !== t.length || t.offset / 4 + t.length > f32.length) {
      throw new CheckpointError(
        `"${join(dir, `${base}.json`)}": tensor ${t.name} does not fit the .bin file`,
      );
    }
    out.set(t.name, { shape: t.shape, data: f32.slice(t.offset / 4, t.offset / 4 + t.length) });
  }
  return out;
}

/** The tensors of `base`.bin/.json, or undefined when the checkpoint has none. */
async function optionalTensors(
  read: (name: string) => Promise<Uint8Array>,
  dir: string,
  base: string,
): Promise<TensorMap | undefined> {
  try {
    return await unpackTensors(read, dir, base);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return undefined;
    throw e;
  }
}

/** Reads variables into a name → array map. */
export async function readVariables(
  vars: tf.Variable[],
): Promise<TensorMap> {
  const data = await Promise.all(vars.map((v) => v.data() as Promise<Float32Array>));
  return new Map(vars.map((v, i) => [logicalName(v), { shape: v.shape.slice(), data: data[i]! }]));
}

/** Assigns saved arrays to variables by name; every variable must be present with its shape. */
export function assignVariables(
  vars: tf.Variable[],
  saved: TensorMap,
  what: string,
): void {
  for (const v of vars) {
    const s = saved.get(logicalName(v));
    if (!s) throw new CheckpointError(`${what}: missing tensor ${logicalName(v)}`);
    if (s.shape.join("x") !== v.shape.join("x")) {
      throw new CheckpointError(
        `${what}: tensor ${logicalName(v)} has shape [${s.shape}], the model needs [${v.shape}]`,
      );
    }
    tf.tidy(() => v.assign(tf.tensor(s.data, v.shape)));
  }
}

/** Adam state of an optimizer as named arrays, variable names made logical (no `#n`). */
export async function readOptimizer(
  prefix: string,
  opt: tf.Optimizer,
): Promise<TensorMap> {
  const ws = await opt.getWeights();
  const data = await Promise.all(ws.map((w) => w.tensor.data() as Promise<Float32Array>));
  // getWeights makes a new tensor for the iteration count; the moments are the live variables.
  for (const w of ws) if (!(w.tensor instanceof tf.Variable)) w.tensor.dispose();
  const out = new Map(
    ws.map((w, i) => [`${prefix}:${w.name.replace(/#\d+(?=\/|$)/, "")}`, {
      shape: w.tensor.shape.slice(),
      data: data[i]!,
    }]),
  );
  for (const [name, v] of adamPowers(opt)) {
    out.set(`${prefix}:${name}`, { shape: [], data: await v.data() as Float32Array });
  }
  return out;
}

/**
 * Adam's running powers beta^t, which `getWeights` leaves out: `setWeights` recomputes them as
 * pow(beta, t + 1), which differs in the last float32 bits from the product Adam keeps, so a
 * resumed run would drift from an uninterrupted one. They are saved and restored as they are.
 */
function adamPowers(opt: tf.Optimizer): [string, tf.Variable][] {
  const o = opt as unknown as { accBeta1?: tf.Variable; accBeta2?: tf.Variable };
  return o.accBeta1 && o.accBeta2 ? [["accBeta1", o.accBeta1], ["accBeta2", o.accBeta2]] : [];
}

/** Restores Adam state saved by {@link readOptimizer} onto the optimizer of `vars`. */
export async function restoreOptimizer(
  prefix: string,
  opt: tf.Optimizer,
  saved: TensorMap,
  vars: tf.Variable[],
): Promise<void> {
  const actual = new Map(vars.map((v) => [logicalName(v), v.name]));
  const powers = new Map(adamPowers(opt));
  const ws: { name: string; tensor: tf.Tensor }[] = [];
  for (const [name, t] of saved) {
    if (!name.startsWith(`${prefix}:`)) continue;
    const rest = name.slice(prefix.length + 1);
    if (powers.has(rest)) continue;
    const slash = rest.lastIndexOf("/");
    const varName = slash > 0 ? actual.get(rest.slice(0, slash)) : undefined;
    const real = varName ? `${varName}${rest.slice(slash)}` : rest;
    ws.push({ name: real, tensor: tf.tensor(t.data, t.shape) });
  }
  if (ws.length === 0) return;
  await opt.setWeights(ws);
  tf.dispose(ws.map((w) => w.tensor)); // the optimizer made its own variables of them
  for (const [name, v] of powers) {
    const t = saved.get(`${prefix}:${name}`);
    if (t) tf.tidy(() => v.assign(tf.scalar(t.data[0]!)));
  }
}

/** The trainer's Adam state of G and D, for {@link CheckpointData.optimizer}. */
export async function readTrainerOptimizers(t: RecSimuTrainer): Promise<TensorMap> {
  return new Map([...(await readOptimizer("G", t.optG)), ...(await readOptimizer("D", t.optD))]);
}

/** Restores the Adam state saved by {@link readTrainerOptimizers} onto the trainer. */
export async function restoreTrainerOptimizers(t: RecSimuTrainer, saved: TensorMap): Promise<void> {
  await restoreOptimizer("G", t.optG, saved, t.model.gVars());
  await restoreOptimizer("D", t.optD, saved, t.model.dVars());
}

/** Prefix of the best weights in optimizer.bin as checkpoints before best.bin wrote them. */
const LEGACY_BEST_PREFIX = "best:";

/**
 * Splits the best weights out of an optimizer map that holds them under "best:" (checkpoints
 * from before best.bin); the map keeps only the Adam state. Undefined when it holds none.
 */
function takeLegacyBest(optimizer: TensorMap): TensorMap | undefined {
  const best: TensorMap = new Map();
  for (const [k, v] of optimizer) {
    if (!k.startsWith(LEGACY_BEST_PREFIX)) continue;
    best.set(k.slice(LEGACY_BEST_PREFIX.length), v);
    optimizer.delete(k);
  }
  return best.size ? best : undefined;
}

/**
 * Where the last complete checkpoint of `dir` is. `writeDirAtomic` moves the previous checkpoint
 * to a unique backup sibling (`.recsimu-old-NAME-…`, marked as a checkpoint) before it renames
 * the new one to `dir`; a crash between the two renames leaves only that backup, which is then
 * the one to read (and, before a new write, to move back). A user's folder is never taken for it.
 */
async function survivor(dir: string): Promise<string> {
  const exists = (p: string) => Deno.lstat(p).then(() => true, () => false);
  if (await exists(dir)) return dir;
  const prefix = `${BACKUP_PREFIX}${basename(dir)}-`;
  let best: { path: string; time: number } | undefined;
  try {
    for await (const e of Deno.readDir(dirname(dir))) {
      if (!e.isDirectory || !e.name.startsWith(prefix)) continue;
      // The name must be exactly the backup's: prefix, then "PID-RAND" digits.
      if (!/^\d+-\d+$/.test(e.name.slice(prefix.length))) continue;
      const path = join(dirname(dir), e.name);
      if ((await readMarker(path))?.kind !== "checkpoint") continue;
      const time = (await Deno.stat(path)).mtime?.getTime() ?? 0;
      if (!best || time > best.time) best = { path, time };
    }
  } catch { /* no parent folder: nothing to recover */ }
  return best?.path ?? dir;
}

/** Writes a complete checkpoint to `dir` atomically. */
export async function saveCheckpoint(dir: string, ck: CheckpointData): Promise<void> {
  // A swap cut short by a crash is completed first: the backup is the last good checkpoint.
  const live = await survivor(dir);
  if (live !== dir) {
    try {
      await Deno.rename(live, dir);
    } catch (e) {
      throw fsUserError(e, "restore the checkpoint in", dir);
    }
  }
  const w = packTensors(ck.weights);
  const o = ck.optimizer ? packTensors(ck.optimizer) : undefined;
  const best = ck.best ? packTensors(ck.best) : undefined;
  await writeDirAtomic(dir, "checkpoint", async (tmp) => {
    const files: Record<string, MarkedEntry> = {};
    // Each file is flushed before the directory is renamed into place (power-cut safe).
    const put = async (name: string, data: string | Uint8Array) => {
      const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
      await writeFileSynced(join(tmp, name), bytes);
      files[name] = entryOf(bytes);
    };
    await put("vocab.json", JSON.stringify(ck.items));
    await put(
      "embeddings.bin",
      new Uint8Array(ck.embeddings.buffer, ck.embeddings.byteOffset, ck.embeddings.byteLength),
    );
    if (ck.itemFeatures) await put(ITEM_FEATURES_FILE, itemFeaturesJson(ck.itemFeatures));
    await put("weights.bin", w.bin);
    await put("weights.json", JSON.stringify(w.manifest, null, 1));
    if (o) {
      await put("optimizer.bin", o.bin);
      await put("optimizer.json", JSON.stringify(o.manifest, null, 1));
    }
    if (best) {
      await put("best.bin", best.bin);
      await put("best.json", JSON.stringify(best.manifest, null, 1));
    }
    await put("history.json", JSON.stringify(ck.history, null, 1));
    await put("start_states.json", JSON.stringify(ck.startStates));
    if (ck.metrics !== undefined) await put("metrics.json", JSON.stringify(ck.metrics, null, 2));
    await put("config.json", JSON.stringify(ck.meta, null, 2));
    return files; // the marker, written last, marks a complete directory
  });
}

/**
 * Refuses, before any work starts, a `dir` that is not a checkpoint: missing ("does not exist"),
 * a file, or a folder without a checkpoint's marker or config.json.
 */
export async function assertCheckpointDir(dir: string): Promise<void> {
  const live = await survivor(dir);
  const s = await inspectOutput(live);
  if (s.state === "absent") throw new CheckpointError(`"${dir}" does not exist`);
  if (s.state === "file") {
    throw new CheckpointError(`"${dir}" is a file, not a recsimu checkpoint folder`);
  }
  if (s.state !== "own" || s.marker.kind !== "checkpoint") {
    const what = s.state === "own"
      ? `holds a recsimu ${s.marker.kind} output`
      : "has no config.json";
    throw new CheckpointError(`"${dir}" is not a recsimu checkpoint (it ${what})`);
  }
}

/** A reader of a checkpoint's files that checks each against the marker's sha256. */
function verifiedReader(dir: string, marker: OutputMarker | undefined) {
  return async (name: string): Promise<Uint8Array> => {
    const path = join(dir, name);
    const bytes = await Deno.readFile(path);
    const entry = marker?.files[name];
    if (marker && entry === undefined) {
      throw new CheckpointError(`"${path}" is not listed in the checkpoint's ${OUTPUT_MARKER}`);
    }
    if (entry && (entry.bytes !== bytes.byteLength || entry.sha256 !== sha256(bytes))) {
      throw new CheckpointError(
        `"${path}" is corrupted (sha256 mismatch); restore it or retrain`,
      );
    }
    return bytes;
  };
}

/** The live folder of checkpoint `dir` (its backup after an interrupted write, said on stderr). */
async function liveDir(dir: string): Promise<string> {
  const live = await survivor(dir);
  if (live !== dir) {
    console.error(
      `recsimu: "${dir}" is missing after an interrupted write; reading its previous version "${live}" (the next training write moves it back)`,
    );
  }
  await assertCheckpointDir(live);
  return live;
}

/**
 * config.json of the live checkpoint folder `dir`: the format is checked before the checksum
 * (another version may lay files out otherwise), then its sha256 and its calibration.
 */
async function readMeta(
  dir: string,
  given: string,
  read: (name: string) => Promise<Uint8Array>,
): Promise<CheckpointMeta> {
  let meta: CheckpointMeta;
  try {
    meta = JSON.parse(await Deno.readTextFile(join(dir, "config.json")));
  } catch (e) {
    if (e instanceof CheckpointError) throw e;
    if (e instanceof Deno.errors.NotFound) {
      throw new CheckpointError(`"${given}" is not a recsimu checkpoint (no config.json)`);
    }
    throw new CheckpointError(
      `"${join(dir, "config.json")}" is unreadable: ${(e as Error).message}`,
    );
  }
  if (meta.format !== CHECKPOINT_FORMAT) {
    throw new CheckpointError(
      `"${dir}" has checkpoint format ${meta.format} (written by recsimu ${meta.recsimu}); this recsimu ${RECSIMU_VERSION} reads format ${CHECKPOINT_FORMAT}`,
    );
  }
  try {
    await read("config.json");
    checkCalibration(meta, dir);
    meta.config = withArchDefaults(meta.config);
  } catch (e) {
    if (e instanceof CheckpointError) throw e;
    throw new CheckpointError(`"${dir}" is incomplete or corrupted: ${(e as Error).message}`);
  }
  return meta;
}

/**
 * A checkpoint's config.json alone, checked as {@link loadCheckpoint} checks it (format, sha256
 * against the marker, calibration), without reading the vocabulary, embeddings or weights: for
 * a check before the real load (e.g. the split `fidelity --log` needs).
 *
 * @example
 * ```ts ignore
 * const meta = await loadCheckpointMeta("runs/model");
 * meta.config.split; // "users" | "last" | undefined
 * ```
 */
export async function loadCheckpointMeta(dir: string): Promise<CheckpointMeta> {
  const live = await liveDir(dir);
  return await readMeta(live, dir, verifiedReader(live, await readMarker(live)));
}

/**
 * Loads a checkpoint; refuses missing files, other format versions and damaged files. With
 * `optimizer: true` it also reads what --resume needs: the Adam state and the best weights.
 */
export async function loadCheckpoint(
  dir: string,
  opts: { optimizer?: boolean } = {},
): Promise<CheckpointData> {
  const given = dir;
  dir = await liveDir(dir);
  const marker = await readMarker(dir);
  const read = verifiedReader(dir, marker);
  const text = async (name: string) => new TextDecoder().decode(await read(name));
  const meta = await readMeta(dir, given, read);
  try {
    const items = JSON.parse(await text("vocab.json")) as string[];
    const eb = await read("embeddings.bin");
    const embeddings = new Float32Array(
      eb.buffer.slice(eb.byteOffset, eb.byteOffset + eb.byteLength),
    );
    if (embeddings.length !== items.length * meta.shape.embDim) {
      throw new CheckpointError(
        `"${
          join(dir, "embeddings.bin")
        }" has ${embeddings.length} values, expected ${items.length}×${meta.shape.embDim}`,
      );
    }
    for (const v of embeddings) {
      if (!Number.isFinite(v)) {
        throw new CheckpointError(`"${join(dir, "embeddings.bin")}" contains NaN or Inf`);
      }
    }
    const itemFeatures = meta.config.itemFeatures === null ? undefined : parseItemFeaturesJson(
      await text(ITEM_FEATURES_FILE),
      join(dir, ITEM_FEATURES_FILE),
      items.length,
    );
    const weights = await unpackTensors(read, dir, "weights");
    let optimizer, best;
    if (opts.optimizer) {
      optimizer = await optionalTensors(read, dir, "optimizer");
      const legacy = optimizer && takeLegacyBest(optimizer);
      best = await optionalTensors(read, dir, "best") ?? legacy;
    }
    const history = JSON.parse(await text("history.json"));
    const startStates = JSON.parse(await text("start_states.json"));
    let metrics;
    try {
      metrics = JSON.parse(await text("metrics.json"));
    } catch (e) {
      // metrics.json is a report, not part of the model: missing is fine; damaged is left out.
      if (e instanceof CheckpointError) console.error(`recsimu: warning: ${e.message}`);
    }
    return {
      meta,
      items,
      embeddings,
      itemFeatures,
      weights,
      optimizer,
      best,
      history,
      startStates,
      metrics,
    };
  } catch (e) {
    if (e instanceof CheckpointError) throw e;
    throw new CheckpointError(`"${dir}" is incomplete or corrupted: ${(e as Error).message}`);
  }
}

/**
 * The bytes of an optional file of the checkpoint in `dir` (e.g. leave.json), checked against
 * the marker's sha256 like every file `loadCheckpoint` reads; undefined when it has none.
 */
export async function readOptionalCheckpointFile(
  dir: string,
  name: string,
): Promise<Uint8Array | undefined> {
  const live = await survivor(dir);
  await assertCheckpointDir(live);
  const marker = await readMarker(live);
  if (marker !== undefined && !Object.hasOwn(marker.files, name)) return undefined;
  try {
    return await verifiedReader(live, marker)(name);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      if (marker === undefined) return undefined;
      throw new CheckpointError(`"${join(live, name)}" is missing; restore it or retrain`);
    }
    throw e;
  }
}

/**
 * An optional JSON file of the checkpoint in `dir` (e.g. leave.json), read as
 * {@link readOptionalCheckpointFile} reads it and parsed, with the path to name in errors;
 * undefined when the checkpoint has none.
 * @throws {CheckpointError} when the file is not valid JSON
 */
export async function readOptionalCheckpointJson(
  dir: string,
  name: string,
): Promise<{ data: unknown; file: string } | undefined> {
  const bytes = await readOptionalCheckpointFile(dir, name);
  if (bytes === undefined) return undefined;
  const file = `${dir.replace(/\/+$/, "")}/${name}`;
  try {
    return { data: JSON.parse(new TextDecoder().decode(bytes)), file };
  } catch (e) {
    throw new CheckpointError(`"${file}" is not valid JSON: ${(e as Error).message}`);
  }
}

/**
 * Replaces one file of the checkpoint in `dir` (e.g. metrics.json from `eval --save`) and its
 * checksum in the marker, each atomically; while it is written the marker lists it as pending (the
 * readers treat it as absent). A legacy checkpoint (no marker) gets the file only.
 */
export async function updateCheckpointFile(
  dir: string,
  name: string,
  data: string,
): Promise<void> {
  await assertCheckpointDir(dir);
  const bytes = new TextEncoder().encode(data);
  const marker = await readMarker(dir);
  if (!marker) return await writeFileAtomic(join(dir, name), bytes);
  // Marker first, listing the file as pending (not part of the checkpoint until the last step):
  // a kill between the two writes leaves a file the folder's owner check still knows as recsimu's.
  const { [name]: _old, ...rest } = marker.files;
  const pending = { ...marker.pending, [name]: entryOf(bytes) };
  await writeFileAtomic(join(dir, OUTPUT_MARKER), markerText("checkpoint", rest, pending));
  await writeFileAtomic(join(dir, name), bytes);
  const { [name]: _done, ...still } = pending;
  await writeFileAtomic(
    join(dir, OUTPUT_MARKER),
    markerText("checkpoint", { ...rest, [name]: entryOf(bytes) }, still),
  );
}
