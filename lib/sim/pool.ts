/**
 * A simulator whose large batches are answered on several cores: the main thread's
 * {@link Simulator} plus W − 1 Deno Workers (./predict_worker.ts), each with the same checkpoint
 * and its own TensorFlow.js backend. A batch of at least 2 × {@link MIN_PER_LANE} requests is cut
 * into contiguous shares, one per lane; the workers compute theirs while the main thread computes
 * the last, and the answers come back in request order. Smaller batches (single steps) stay on the
 * main thread, so their latency does not pay for messages.
 *
 * Every answer is a function of its own request only (states are encoded per request, the heads'
 * softmax per row), so a pooled batch answers exactly what one lane would (tested): sessions,
 * seeds and rewards do not change with `--workers`.
 * @module
 */
import { UserError } from "../errors.ts";
import { backendInfo, type BackendName } from "../tf.ts";
import { Simulator, type SimulatorLoadOptions } from "./simulator.ts";
import type {
  ArrayPrediction,
  FeedbackRequest,
  RealScoreMode,
  SimulatorLike,
  StepRecord,
  UserModelName,
} from "./types.ts";

/** The main thread's load options a worker repeats, so every lane answers alike. */
export interface LaneLoadOptions {
  userModel: UserModelName;
  realScore: RealScoreMode;
}

/** Fewest requests a lane gets: below 2× this a batch stays on the main thread. */
export const MIN_PER_LANE = 32;

/** Most lanes (main thread + workers) a pool may have. */
export const MAX_LANES = 64;

/** A worker's reply (see ./predict_worker.ts). */
type LaneReply =
  | { kind: "ready" }
  | { kind: "failed"; message: string }
  | { kind: "answers"; id: number; answers: ArrayPrediction[] }
  | { kind: "error"; id: number; message: string; user: boolean };

interface Pending {
  resolve: (a: ArrayPrediction[]) => void;
  reject: (e: Error) => void;
}

/** One worker lane and its calls in flight. */
class Lane {
  readonly worker: Worker;
  readonly pending: Map<number, Pending> = new Map();
  #next = 0;
  /** Set once the worker died: later batches skip it. */
  failure: Error | undefined;

  constructor() {
    this.worker = new Worker(new URL("./predict_worker.ts", import.meta.url).href, {
      type: "module",
    });
  }

  /** Loads the checkpoint in the worker; resolves once it can answer. */
  load(dir: string, backend: BackendName, options: LaneLoadOptions): Promise<void> {
    return new Promise((resolve, reject) => {
      this.worker.onmessage = (e: MessageEvent<LaneReply>) => {
        const m = e.data;
        if (m.kind === "ready") {
          this.worker.onmessage = (ev: MessageEvent<LaneReply>) => this.#reply(ev.data);
          resolve();
        } else if (m.kind === "failed") reject(new Error(`prediction worker: ${m.message}`));
      };
      this.worker.onerror = (e: ErrorEvent) => {
        e.preventDefault(); // the pool reports it; the process goes on
        const err = new Error(`prediction worker failed: ${e.message}`);
        this.failure = err;
        reject(err);
        for (const p of this.pending.values()) p.reject(err);
        this.pending.clear();
      };
      this.worker.postMessage({ kind: "load", dir, backend, ...options });
    });
  }

  predict(requests: FeedbackRequest[]): Promise<ArrayPrediction[]> {
    const id = this.#next++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ kind: "predict", id, requests });
    });
  }

  #reply(m: LaneReply): void {
    if (m.kind !== "answers" && m.kind !== "error") return;
    const p = this.pending.get(m.id);
    if (!p) return;
    this.pending.delete(m.id);
    if (m.kind === "answers") p.resolve(m.answers);
    else p.reject(m.user ? new UserError(m.message) : new Error(`prediction worker: ${m.message}`));
  }
}

/**
 * {@link Simulator} answers computed on `lanes` threads (see the module comment).
 *
 * @example
 * ```ts ignore
 * import { PooledSimulator } from "@recsimu/recsimu";
 *
 * const sim = await PooledSimulator.load("runs/demo/model", { lanes: 2 });
 * const answers = await sim.predictArrays(requests); // 256 requests: 128 per core
 * sim.close();
 * ```
 */
export class PooledSimulator implements SimulatorLike {
  readonly labels: readonly string[];
  readonly positive: readonly boolean[];
  readonly stateLength: number;
  readonly itemCount: number;
  readonly items: readonly string[];
  readonly startStates: readonly (readonly StepRecord[])[];
  readonly answersUnknownItems: boolean;

  readonly #workers: readonly Lane[];

  private constructor(readonly main: Simulator, workers: readonly Lane[]) {
    this.#workers = workers;
    this.labels = main.labels;
    this.positive = main.positive;
    this.stateLength = main.stateLength;
    this.itemCount = main.itemCount;
    this.items = main.items;
    this.startStates = main.startStates;
    this.answersUnknownItems = main.answersUnknownItems;
  }

  /**
   * Loads the checkpoint in `dir` on the main thread and in `lanes − 1` workers (same backend).
   * `lanes` 1 is the plain simulator. The WebGPU backend has one device: it takes 1 lane only.
   */
  static async load(
    dir: string,
    options: SimulatorLoadOptions & { lanes: number },
  ): Promise<PooledSimulator> {
    const { lanes, ...rest } = options;
    if (!(Number.isInteger(lanes) && lanes >= 1 && lanes <= MAX_LANES)) {
      throw new UserError(`--workers: expected an integer from 1 to ${MAX_LANES}, got ${lanes}`);
    }
    const main = await Simulator.load(dir, rest);
    const backend = (backendInfo()?.name ?? "wasm") as BackendName;
    if (lanes > 1 && backend === "webgpu") {
      main.dispose();
      throw new UserError(
        "--workers: more than 1 needs the wasm or cpu backend (WebGPU has one device); use --workers 1",
      );
    }
    const workers: Lane[] = [];
    try {
      for (let i = 1; i < lanes; i++) workers.push(new Lane());
      const same = { userModel: main.userModel, realScore: main.realScore };
      await Promise.all(workers.map((w) => w.load(dir, backend, same)));
    } catch (e) {
      for (const w of workers) w.worker.terminate();
      main.dispose();
      throw e;
    }
    return new PooledSimulator(main, workers);
  }

  /** Threads that compute predictions (the main thread and the live workers). */
  get lanes(): number {
    return 1 + this.#workers.filter((w) => !w.failure).length;
  }

  hasItem(id: string): boolean {
    return this.main.hasItem(id);
  }

  /** The main simulator's {@link Simulator.predictArrays}, its large batches shared out. */
  async predictArrays(requests: readonly FeedbackRequest[]): Promise<ArrayPrediction[]> {
    const live = this.#workers.filter((w) => !w.failure);
    const lanes = Math.min(1 + live.length, Math.floor(requests.length / MIN_PER_LANE));
    if (lanes < 2) return this.main.predictArrays(requests);
    const size = Math.ceil(requests.length / lanes);
    const shares: Promise<ArrayPrediction[]>[] = [];
    for (let l = 0; l < lanes - 1; l++) {
      shares.push(live[l]!.predict(requests.slice(l * size, (l + 1) * size)));
    }
    // Every share settles before this returns: no rejection is left unobserved.
    const settled = Promise.allSettled(shares);
    let mine: ArrayPrediction[] | undefined, own: unknown;
    try {
      mine = await this.main.predictArrays(requests.slice((lanes - 1) * size));
    } catch (e) {
      own = e;
    }
    const results = await settled;
    if (own === undefined && results.every((r) => r.status === "fulfilled")) {
      return [
        ...results.flatMap((r) => (r as PromiseFulfilledResult<ArrayPrediction[]>).value),
        ...mine!,
      ];
    }
    // Bad input (or a worker lost): the main thread answers the whole batch, so a UserError
    // names the request's index in the batch, not in a share.
    return this.main.predictArrays(requests);
  }

  describe(): Record<string, unknown> {
    return { ...this.main.describe(), workers: this.lanes };
  }

  /** Stops the workers and frees the main thread's model. */
  close(): void {
    for (const w of this.#workers) {
      w.worker.terminate();
      const err = new Error("prediction worker closed");
      for (const p of w.pending.values()) p.reject(err);
      w.pending.clear();
    }
    this.main.dispose();
  }
}
