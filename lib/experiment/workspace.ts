/**
 * The experiment's workspace: the data views its runs train on (the base log, the long-history
 * tuples of Figure 8a, Table 1's fitting sessions and queries) and their item embeddings, each
 * built on first use and then shared; item2vec vectors are cached under `OUT/cache/` so that a
 * resumed experiment trains the same ones.
 * @module
 */
import { join } from "node:path";
import { type Dataset, datasetOptions } from "../data/dataset.ts";
import { UserError } from "../errors.ts";
import { writeFileAtomic } from "../atomic.ts";
import { log } from "../progress.ts";
import { trainItem2Vec } from "../embeddings/item2vec.ts";
import { loadEmbeddingsCsv } from "../embeddings/load.ts";
import { type RankingQuery, splitForGeneratorQuality } from "../eval/generator_quality.ts";
import type { ExperimentOptions } from "./options.ts";
import type { ExperimentSettings } from "./results.ts";
import type { Job } from "./plan.ts";

/** Data views and embeddings, built on first use. */
export class Workspace {
  readonly #views = new Map<string, Dataset>();
  #queries?: RankingQuery[];
  readonly #embeddings = new Map<string, Float32Array>();

  /**
   * @param opts the experiment's options (output folder, loader, embeddings file, verbosity)
   * @param settings the settings every run shares
   * @param base the log under the base configuration
   */
  constructor(
    readonly opts: ExperimentOptions,
    readonly settings: ExperimentSettings,
    readonly base: Dataset,
  ) {}

  /** True when training progress bars are off (`quiet` or `silent`). */
  get quiet(): boolean {
    return !!(this.opts.quiet || this.opts.silent);
  }

  /** The tuples `job` trains and is tested on. */
  async view(job: Job): Promise<Dataset> {
    if (job.view === "base") return this.base;
    if (job.view === "fit") return this.fit();
    const long = await this.long();
    return { ...long, stateLength: job.config.stateLength, minStateLength: job.config.stateLength };
  }

  /** Table 1's fitting data: the base log without the held-out sessions. */
  fit(): Dataset {
    let fit = this.#views.get("fit");
    if (!fit) {
      const s = splitForGeneratorQuality(this.base, {
        fraction: this.settings.heldOut.fraction,
        seed: this.settings.heldOut.seed,
        k: this.settings.k,
      });
      if (s.queries.length === 0) {
        throw new UserError(
          `generator suite: no held-out session has a positive item among its first ${this.settings.k} actions after N = ${this.base.stateLength} rows`,
        );
      }
      fit = s.fit;
      this.#views.set("fit", fit);
      this.#queries = s.queries;
      this.say(
        `generator suite: ${s.heldOut} sessions held out, ${s.queries.length} queries (${s.noPositive} without a positive item skipped)`,
      );
    }
    return fit;
  }

  /** Table 1's queries: one per held-out session with a positive item in its window. */
  queries(): RankingQuery[] {
    this.fit();
    return this.#queries!;
  }

  /** Figure 8a's tuples: those with at least `settings.longHistory` earlier rows. */
  async long(): Promise<Dataset> {
    let long = this.#views.get("long");
    if (!long) {
      const maxN = this.settings.longHistory;
      long = await this.opts.load(
        datasetOptions({ ...this.settings.config, stateLength: maxN, minStateLength: maxN }),
      );
      if (long.test.length === 0 || long.train.length === 0) {
        throw new UserError(
          `sensitivity suite: no session has more than ${maxN} rows, so no state length of the grid can be compared on the same tuples; lower the largest N`,
        );
      }
      this.#views.set("long", long);
    }
    return long;
  }

  /** The run's item embeddings: the file's, or item2vec on the view (cached under OUT/cache). */
  async embeddings(job: Job, ds: Dataset): Promise<Float32Array> {
    const file = this.opts.embeddingsFile;
    const seed = job.seed ?? this.settings.config.seed;
    const key = file ? "file" : `${job.view}-seed${seed}`;
    let e = this.#embeddings.get(key);
    if (!e) {
      e = file
        ? await loadEmbeddingsCsv(file, ds.items, job.config.embDim)
        : await this.#item2vec(key, ds, job.config, seed);
      this.#embeddings.set(key, e);
    }
    return e;
  }

  /** item2vec vectors of `ds`: read from `OUT/cache/item2vec-KEY.f32`, else trained and saved. */
  async #item2vec(
    key: string,
    ds: Dataset,
    c: { embDim: number; i2vEpochs: number },
    seed: number,
  ): Promise<Float32Array> {
    const path = join(this.opts.out, "cache", `item2vec-${key}.f32`);
    try {
      const b = await Deno.readFile(path);
      if (b.byteLength === ds.items.length * c.embDim * 4) {
        return new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4).slice();
      }
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
    }
    const r = await trainItem2Vec(ds, { dim: c.embDim, epochs: c.i2vEpochs, seed });
    const e = r.vectors;
    await writeFileAtomic(path, new Uint8Array(e.buffer, e.byteOffset, e.byteLength));
    this.say(
      `item2vec (${key}): ${r.pairs} pairs, loss ${r.finalLoss.toFixed(4)}, ${
        r.seconds.toFixed(1)
      }s`,
    );
    return e;
  }

  /** Prints a line on stderr unless the experiment is silent. */
  say(line: string): void {
    if (!this.opts.silent) log(line);
  }
}
