/**
 * A deterministic {@link SimulatorLike} for tests and the serve benchmark: probabilities come
 * from a hash of (last item, last feedback, action), `real` is 0.5 ± 0.4. No tensors.
 * @module
 */
import { UserError } from "../lib/errors.ts";
import type {
  ArrayPrediction,
  FeedbackRequest,
  SimulatorLike,
  StepRecord,
} from "../lib/sim/types.ts";

/** Options of {@link FakeSimulator}. */
export interface FakeSimulatorOptions {
  /** Number of items `i0 … i<n-1>`. @default 50 */
  itemCount?: number;
  /** State length N. @default 5 */
  stateLength?: number;
  /** Start states offered to environments. @default three short histories */
  startStates?: StepRecord[][];
  /** Milliseconds each `predictArrays` call waits (to hold requests in flight). @default 0 */
  delayMs?: number;
}

function hash(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

/** A deterministic fake simulator with labels skip / click / purchase. */
export class FakeSimulator implements SimulatorLike {
  readonly labels = ["skip", "click", "purchase"] as const;
  readonly positive = [false, true, true] as const;
  readonly stateLength: number;
  readonly itemCount: number;
  readonly items: readonly string[];
  readonly startStates: readonly (readonly StepRecord[])[];
  readonly delayMs: number;
  /** Number of `predictArrays` calls so far. */
  predictCalls = 0;
  /** Size of each `predictArrays` call's batch, in order. */
  batchSizes: number[] = [];
  readonly #itemSet: Set<string>;

  constructor(options: FakeSimulatorOptions = {}) {
    this.itemCount = options.itemCount ?? 50;
    this.stateLength = options.stateLength ?? 5;
    this.delayMs = options.delayMs ?? 0;
    this.items = Array.from({ length: this.itemCount }, (_, i) => `i${i}`);
    this.#itemSet = new Set(this.items);
    this.startStates = options.startStates ?? [
      [{ item: "i1", feedback: "click" }, { item: "i2", feedback: "skip" }],
      [{ item: "i3", feedback: "purchase" }],
      [
        { item: "i4", feedback: "skip" },
        { item: "i5", feedback: "skip" },
        { item: "i6", feedback: "click" },
      ],
    ];
  }

  hasItem(id: string): boolean {
    return this.#itemSet.has(id);
  }

  /** The prediction for one request (what `predictArrays` returns for it). */
  predictOne(r: FeedbackRequest): ArrayPrediction {
    const last = r.state.at(-1);
    const h = hash(`${last?.item ?? "-"}|${last?.feedback ?? "-"}|${r.action}`);
    const w = [1 + (h & 0xff) / 32, 1 + ((h >>> 8) & 0xff) / 64, 0.2 + ((h >>> 16) & 0xff) / 256];
    const total = w[0]! + w[1]! + w[2]!;
    return { probs: w.map((x) => x / total), real: 0.5 + 0.4 * (((h >>> 24) & 0xff) / 255 - 0.5) };
  }

  async predictArrays(requests: readonly FeedbackRequest[]): Promise<ArrayPrediction[]> {
    this.predictCalls++;
    this.batchSizes.push(requests.length);
    if (this.delayMs > 0) await new Promise((r) => setTimeout(r, this.delayMs));
    return requests.map((r, i) => {
      for (const [j, s] of r.state.entries()) {
        if (!this.hasItem(s.item)) {
          throw new UserError(`requests[${i}].state[${j}].item: unknown item`);
        }
      }
      if (!this.hasItem(r.action)) throw new UserError(`requests[${i}].action: unknown item`);
      return this.predictOne(r);
    });
  }

  describe(): Record<string, unknown> {
    return {
      kind: "fake",
      backend: "cpu",
      stateLength: this.stateLength,
      itemCount: this.itemCount,
    };
  }
}
