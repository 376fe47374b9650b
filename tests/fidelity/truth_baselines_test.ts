/**
 * The truth judge's baselines: fitted on the world's log.csv as the model's training read it and
 * scored on the cases the simulator answered. The item rates and their distances to the truth
 * are recomputed by hand from log.csv; the CLI fits all three beside a tiny trained model.
 * @module
 */
import { join } from "node:path";
import { assert, assertAlmostEquals, assertEquals, assertRejects } from "../_assert.ts";
import { runRecsimu, TINY_FLAGS } from "../_cli.ts";
import { tempDir } from "../_helpers.ts";
import { TRAIN_DEFAULTS, type TrainConfig } from "../../lib/config.ts";
import { datasetOptions, loadDataset } from "../../lib/data/dataset.ts";
import { type TruthWriteOptions, writeTruthWorld } from "../../lib/data/truth/write.ts";
import { TRUTH_LABELS } from "../../lib/data/truth/world.ts";
import { UserError } from "../../lib/errors.ts";
import { judgeTruth, type TrainedSimulator } from "../../lib/fidelity/judge.ts";
import { loadTruthDir } from "../../lib/fidelity/truth_dir.ts";
import { fidelityTable } from "../../lib/fidelity/table.ts";
import { truthReportHtml } from "../../lib/fidelity/html_report.ts";

/** 120 items, 120 sessions, 300 cases; 2 start states × 1 rollout × 3 steps. */
const TINY: TruthWriteOptions = {
  preset: "base",
  seed: 3,
  params: { items: 120, categories: 6 },
  sessions: 120,
  cases: 300,
  startStates: 2,
  rollouts: 1,
  horizon: 3,
};

/** The toy simulator's answer, whatever the question. */
const SIM_PROBS = [0.6, 0.3, 0.1];

/** Items the toy refuses besides those it never saw: ids divisible by 5. */
const refused = (id: string) => Number(id.slice(1)) % 5 === 0;

/** A toy simulator "trained" (as its config says) on `log`: the vocabulary its training built. */
async function toyModel(log: string, fingerprint?: string): Promise<TrainedSimulator> {
  const config: TrainConfig = {
    ...TRAIN_DEFAULTS,
    positive: ["click", "purchase"],
    stateLength: 3,
    minCount: 1,
  };
  const ds = await loadDataset(log, datasetOptions(config));
  const known = new Set(ds.items.filter((id) => !refused(id)));
  return {
    labels: ds.labels,
    positive: ds.positive,
    stateLength: 3,
    itemCount: ds.items.length,
    items: ds.items,
    startStates: [],
    hasItem: (id) => known.has(id),
    predictArrays: (rs) => Promise.resolve(rs.map(() => ({ probs: [...SIM_PROBS], real: 1 }))),
    describe: () => ({ model: "toy" }),
    meta: { config, data: { fingerprint: fingerprint ?? ds.fingerprint } },
  };
}

/**
 * Item rates by hand from log.csv: the training tuples of split `last` are the rows of a
 * session from its second to its third-to-last (the last tests, the one before validates);
 * P(k | item) = (count_k + 2·prior_k) / (count + 2), prior the label shares of those tuples.
 */
async function itemRatesByHand(log: string): Promise<(item: string) => number[]> {
  const sessions = new Map<string, { item: string; label: number; ts: number }[]>();
  for (const line of (await Deno.readTextFile(log)).trim().split("\n").slice(1)) {
    const [s, item, feedback, ts] = line.split(",");
    const label = TRUTH_LABELS.indexOf(feedback as typeof TRUTH_LABELS[number]);
    if (!sessions.has(s!)) sessions.set(s!, []);
    sessions.get(s!)!.push({ item: item!, label, ts: Number(ts) });
  }
  const counts = new Map<string, number[]>();
  const prior = [0, 0, 0];
  for (const rows of sessions.values()) {
    rows.sort((a, b) => a.ts - b.ts);
    for (let p = 1; p <= rows.length - 3; p++) {
      const { item, label } = rows[p]!;
      if (!counts.has(item)) counts.set(item, [0, 0, 0]);
      counts.get(item)![label]!++;
      prior[label]!++;
    }
  }
  const n = prior[0]! + prior[1]! + prior[2]!;
  return (item) => {
    const c = counts.get(item) ?? [0, 0, 0];
    const total = c[0]! + c[1]! + c[2]!;
    return c.map((x, k) => (x + (2 * prior[k]!) / n) / (total + 2));
  };
}

/** Σ_b (n_b/n)·|mean p_b − mean t_b| over 10 equal-width bins of p (the last one closed). */
function eceByHand(p: number[], t: number[]): number {
  const n = new Array(10).fill(0), sp = new Array(10).fill(0), st = new Array(10).fill(0);
  p.forEach((x, i) => {
    const b = Math.min(9, Math.floor(x * 10));
    n[b]++;
    sp[b] += x;
    st[b] += t[i]!;
  });
  let sum = 0;
  for (let b = 0; b < 10; b++) {
    if (n[b] > 0) sum += (n[b] / p.length) * Math.abs((sp[b] - st[b]) / n[b]);
  }
  return sum;
}

Deno.test("judgeTruth() scores item rates fitted on log.csv on the cases the simulator answered", async () => {
  await using d = await tempDir();
  await writeTruthWorld(d.path, TINY);
  const truth = await loadTruthDir(d.path);
  const log = join(d.path, "log.csv");
  const sim = await toyModel(log);
  const r = await judgeTruth(sim, truth, { baselines: ["item_rate"], startStates: 1 });
  assertEquals(r.config.baselines, ["item_rate"]);
  // The cases the toy answers: every item of the history and the action known to it.
  const knows = (v: number) => sim.hasItem(`i${v}`);
  const answered = truth.cases.filter((c) =>
    knows(c.action) && c.state.every((s) => knows(s.item))
  );
  assert(answered.length > 50 && answered.length < 300, `${answered.length} answered`);
  assertEquals(r.prediction.coverage.answered, answered.length);
  const rate = await itemRatesByHand(log);
  for (const split of ["overall", "logging", "random"] as const) {
    const cases = split === "overall" ? answered : answered.filter((c) => c.source === split);
    const s = r.prediction[split];
    assertEquals(s.n, cases.length, split);
    const b = s.item_rate!;
    const p = cases.map((c) => rate(`i${c.action}`));
    const pos = p.map((x) => x[1]! + x[2]!);
    const truePos = cases.map((c) => c.probs[1] + c.probs[2]);
    assertAlmostEquals(b.ece_vs_truth, eceByHand(pos, truePos), 1e-12, split);
    const mae = pos.reduce((a, x, i) => a + Math.abs(x - truePos[i]!), 0) / cases.length;
    assertAlmostEquals(b.mae_vs_truth, mae, 1e-12, split);
    let kl = 0;
    cases.forEach((c, i) => {
      for (let k = 0; k < 3; k++) {
        if (c.probs[k]! > 0) kl += c.probs[k]! * Math.log(c.probs[k]! / p[i]![k]!);
      }
    });
    assertAlmostEquals(b.kl_to_truth!, kl / cases.length, 1e-12, split);
    const ll = -cases.reduce((a, c, i) => a + Math.log(p[i]![c.label]!), 0) / cases.length;
    assertAlmostEquals(b.log_loss!, ll, 1e-12, split);
    // The simulator's constant answer, scored on the same cases.
    const simKl = cases.reduce(
      (a, c) =>
        a + c.probs.reduce((x, t, k) => (t > 0 ? x + t * Math.log(t / SIM_PROBS[k]!) : x), 0),
      0,
    ) / cases.length;
    assertAlmostEquals(s.simulator.kl_to_truth, simKl, 1e-12, split);
    assert(Number.isFinite(b.auc) && Number.isFinite(b.brier) && Number.isFinite(b.ece), split);
    assertEquals(s.lr, undefined);
  }
  assert(fidelityTable(r).includes("\n         item_rate "), fidelityTable(r));
  const page = await truthReportHtml(r, "toy");
  assert(page.includes("beside the baselines") && page.includes("<td>item_rate</td>"));
});

Deno.test("judgeTruth() without baselines reports none; a model trained on another log is refused", async () => {
  await using d = await tempDir();
  await writeTruthWorld(d.path, TINY);
  const truth = await loadTruthDir(d.path);
  const log = join(d.path, "log.csv");
  const plain = await judgeTruth(await toyModel(log), truth, { startStates: 1 });
  assertEquals(plain.config.baselines, []);
  assertEquals(Object.keys(plain.prediction.overall).filter((k) => k === "item_rate"), []);
  assert(!fidelityTable(plain).includes("item_rate"));
  const other = await toyModel(log, "0".repeat(64));
  await assertRejects(
    () => judgeTruth(other, truth, { baselines: ["item_rate"], startStates: 1 }),
    UserError,
    "is not the log the model was trained on",
  );
  await assertRejects(
    async () => judgeTruth(await toyModel(log), truth, { baselines: ["gru"], startStates: 1 }),
    TypeError,
    "need the model's item embeddings",
  );
});

/** The figures every baseline has, and those only baselines with all label probabilities have. */
const POSITIVE_FIELDS = [
  "auc",
  "log_loss_positive",
  "brier",
  "ece",
  "ece_vs_truth",
  "mae_vs_truth",
];
const MULTI_FIELDS = ["log_loss", "brier_multiclass", "kl_to_truth"];

Deno.test({
  name:
    "recsimu fidelity --truth fits item_rate, lr and gru beside a trained model; none leaves them out",
  permissions: { read: true, write: true, run: true, env: true },
  async fn() {
    await using d = await tempDir();
    const w = join(d.path, "w"), m = join(d.path, "m");
    await writeTruthWorld(w, TINY);
    const t = await runRecsimu([
      "train",
      "--data",
      join(w, "log.csv"),
      "--out",
      m,
      ...TINY_FLAGS,
      "--epochs",
      "1",
      "--quiet",
    ]);
    assertEquals(t.code, 0, t.stderr);
    const args = ["fidelity", "--model", m, "--truth", w, "--start-states", "1", "--rollouts", "1"];
    const all = await runRecsimu([...args, "--backend", "cpu", "--baselines", "item_rate,lr,gru"]);
    assertEquals(all.code, 0, all.stderr);
    const r = JSON.parse(all.stdout);
    assertEquals(r.config.baselines, ["item_rate", "lr", "gru"]);
    for (const split of ["overall", "logging", "random"]) {
      const s = r.prediction[split];
      for (const name of ["item_rate", "lr", "gru"]) {
        for (const f of POSITIVE_FIELDS) {
          assert(Number.isFinite(s[name][f]), `${split}.${name}.${f}: ${s[name][f]}`);
        }
        for (const f of MULTI_FIELDS) {
          if (name === "lr") assertEquals(s[name][f], undefined, `${split}.lr.${f}`);
          else assert(Number.isFinite(s[name][f]), `${split}.${name}.${f}: ${s[name][f]}`);
        }
      }
    }
    assertEquals(r.prediction.overall.n, r.prediction.coverage.answered);
    assert(/\n {9}gru {8}/.test(all.stderr), all.stderr);
    // The default: item_rate and lr (gru's fit is most of a judge's time on a large world).
    const byDefault = await runRecsimu([...args, "--backend", "cpu", "--quiet"]);
    assertEquals(byDefault.code, 0, byDefault.stderr);
    const dr = JSON.parse(byDefault.stdout);
    assertEquals(dr.config.baselines, ["item_rate", "lr"]);
    assertEquals(dr.prediction.overall.item_rate, r.prediction.overall.item_rate);
    const none = await runRecsimu([...args, "--backend", "cpu", "--baselines", "none", "--quiet"]);
    assertEquals(none.code, 0, none.stderr);
    const nr = JSON.parse(none.stdout);
    assertEquals(nr.config.baselines, []);
    for (const split of ["overall", "logging", "random"]) {
      for (const name of ["item_rate", "lr", "gru"]) {
        assertEquals(nr.prediction[split][name], undefined, `${split}.${name}`);
      }
    }
    assertEquals(nr.prediction.overall.simulator, r.prediction.overall.simulator);
  },
});
