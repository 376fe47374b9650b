import { join } from "node:path";
import { assert, assertEquals, assertRejects } from "../_assert.ts";
import { initBackend } from "../../lib/tf.ts";
import { datasetFromText, type DatasetOptions } from "../../lib/data/dataset.ts";
import { parseSuites, SENSITIVITY_GRID } from "../../lib/experiment/suites.ts";
import { planJobs } from "../../lib/experiment/plan.ts";
import {
  readResults,
  RESULTS_FORMAT,
  type ResultsFile,
  type RunRecord,
} from "../../lib/experiment/results.ts";
import { runExperiment } from "../../lib/experiment/runner.ts";
import { FITTERS } from "../../lib/experiment/fitters.ts";
import { renderReport, REPORT_SECTIONS } from "../../lib/experiment/report.ts";
import { UserError } from "../../lib/errors.ts";
import type { TrainConfig } from "../../lib/config.ts";
import { planFlags } from "../../lib/commands/experiment.ts";
import type { EpochRecord } from "../../lib/train/loop.ts";
import { synthText, tempDir, tinyConfig } from "../_helpers.ts";

const text = synthText({
  seed: 2,
  sessions: 40,
  items: 30,
  categories: 4,
  minLength: 8,
  maxLength: 12,
});
const load = (o: DatasetOptions) => datasetFromText(text, "tiny.csv", o);
const config = (over: Partial<TrainConfig> = {}) =>
  tinyConfig({
    stateLength: 3,
    minStateLength: 3,
    embDim: 4,
    feedbackDim: 2,
    hidden: 8,
    fc: 8,
    batch: 64,
    ...over,
  });

Deno.test("planJobs() lists each configuration once per seed and shares RecSimu runs", () => {
  const c = config();
  const jobs = planJobs(parseSuites("all"), 2, c);
  assertEquals(new Set(jobs.map((j) => j.id)).size, jobs.length);
  // overall 8 (7 + RecSimu with the item bias) + ablation 3 more + N grid 6 + λ grid 6 more (λ = 0.3 is the base run) + Table 1 5,
  // per seed; plus the seedless logs.
  const perSeed = 8 + 3 + SENSITIVITY_GRID.stateLength.length + SENSITIVITY_GRID.lambda.length - 1 +
    5;
  assertEquals(jobs.length, 2 * perSeed + 1);
  const base = jobs.filter((j) => j.id === "base:recsimu:seed=1");
  assertEquals(base.length, 1);
  assertEquals(base[0]!.config.seed, c.seed + 1);
  assert(jobs.some((j) => j.id === "base:recsimu[beta=0]:seed=0" && j.label === "recsimu-2"));
  assert(jobs.some((j) => j.id === "long:recsimu[stateLength=1,minStateLength=1]:seed=0"));
  const ib = jobs.filter((j) => j.label === "recsimu+ib");
  assertEquals(ib.map((j) => j.id), [
    "base:recsimu[itemBias=true]:seed=0",
    "base:recsimu[itemBias=true]:seed=1",
  ]);
  assert(ib.every((j) => j.config.itemBias && j.model === "recsimu"));
  assertEquals(parseSuites("generator,overall"), ["overall", "generator"]);
  let err: unknown;
  try {
    parseSuites("everything");
  } catch (e) {
    err = e;
  }
  assert(err instanceof UserError);
});

Deno.test("FITTERS holds one fit function for each model the suites plan, and no other", () => {
  const planned = new Set(planJobs(parseSuites("all"), 1, config()).map((j) => j.model));
  assertEquals(Object.keys(FITTERS).sort(), [...planned].sort());
  for (const m of planned) assertEquals(typeof FITTERS[m], "function", m);
});

Deno.test("runExperiment() resumes after an interruption without redoing finished runs", async () => {
  await initBackend("wasm", { quiet: true, threads: 1 });
  await using tmp = await tempDir();
  const opts = {
    out: tmp.path,
    suites: parseSuites("overall"),
    seeds: 1,
    config: config(),
    load,
    silent: true,
  };
  class Interrupt extends Error {}
  let seen = 0;
  await assertRejects(
    () =>
      runExperiment({
        ...opts,
        onRecord: () => {
          if (++seen === 1) throw new Interrupt("simulated interruption");
        },
      }),
    Interrupt,
  );
  const first = await readResults(tmp.path);
  assertEquals(first?.runs.length, 1);
  const firstId = first!.runs[0]!.id;

  const r = await runExperiment(opts);
  assertEquals(r.skipped, [firstId]);
  assertEquals(r.ran.length, 7);
  assert(!r.ran.includes(firstId));
  const saved = await readResults(tmp.path);
  assertEquals(saved?.runs.length, 8);
  assertEquals(saved!.runs[0], first!.runs[0]); // the first run is kept as it was
  for (const run of saved!.runs) {
    assert(run.feedback && run.feedback.n > 0, `${run.id} has test metrics`);
    assertEquals(run.feedback.n, saved!.runs[0]!.feedback!.n); // same test tuples for all
  }
  const html = await Deno.readTextFile(join(tmp.path, "report.html"));
  assert(html.includes('data-figure="fig6"') && html.includes("<svg"));

  // A third call has nothing left to do; other settings are refused.
  const again = await runExperiment(opts);
  assertEquals(again.ran, []);
  await assertRejects(
    () => runExperiment({ ...opts, config: config({ hidden: 12 }) }),
    UserError,
    "settings.config.hidden",
  );
});

Deno.test("a RecSimu run stopped mid-training continues from its checkpoint", async () => {
  await initBackend("wasm", { quiet: true, threads: 1 });
  await using tmp = await tempDir();
  let polls = 0;
  const opts = {
    out: tmp.path,
    suites: parseSuites("ablation"),
    seeds: 1,
    config: config({ batch: 32, epochs: 2 }),
    load,
    silent: true,
  };
  // The first job is RecSimu-1: stop it after a few training steps.
  const stopped = await runExperiment({ ...opts, shouldStop: () => ++polls > 5 });
  assert(stopped.stopped);
  assertEquals(stopped.ran, []);
  const ckpts = [...Deno.readDirSync(join(tmp.path, "checkpoints"))];
  assertEquals(ckpts.length, 1);
  const r = await runExperiment(opts);
  assertEquals(r.ran.length, 4);
  const rec = r.results.runs.find((x) => x.label === "recsimu-1")!;
  assertEquals(rec.history?.length, 1 + 1 + 2); // pre-G, pre-D, 2 adversarial epochs
  assertEquals([...Deno.readDirSync(join(tmp.path, "checkpoints"))].length, 0); // removed when done
});

/** A results file with every suite's runs over three seeds (made-up numbers). */
function fakeResults(): ResultsFile {
  const c = config();
  const runs: RunRecord[] = [];
  const feedback = (auc: number, f1: number) => ({
    n: 100,
    positiveRate: 0.3,
    f1,
    precision: f1,
    recall: f1,
    accuracy: 0.7,
    auc,
    logLoss: 0.6,
  });
  const history: EpochRecord[] = [
    { phase: "pre_g", epoch: 1, seconds: 1, samplesPerSecond: 1, loss: { "loss/g_sup": 3 } },
    { phase: "pre_d", epoch: 1, seconds: 1, samplesPerSecond: 1, loss: { "loss/d_sup": 1.2 } },
    { phase: "adv", epoch: 1, seconds: 1, samplesPerSecond: 1, loss: { "loss/d": 2, "loss/g": 1 } },
    {
      phase: "adv",
      epoch: 2,
      seconds: 1,
      samplesPerSecond: 1,
      loss: { "loss/d": 1.8, "loss/g": 1.1 },
    },
  ];
  const push = (
    r: Partial<RunRecord> & Pick<RunRecord, "id" | "view" | "model" | "label">,
    seed: number | null,
  ) =>
    runs.push({
      seed,
      delta: {},
      config: { ...c, seed: seed ?? 0 },
      seconds: 1,
      finished: "",
      backend: "wasm",
      ...r,
    });
  for (const seed of [0, 1, 2]) {
    const j = seed * 0.01;
    ["random", "item_rate", "lr", "gru", "gan", "gan-s", "recsimu", "recsimu+ib"].forEach((m, i) =>
      push({
        id: `base:${m}:${seed}`,
        view: "base",
        model: m === "recsimu+ib" ? "recsimu" : m,
        label: m,
        feedback: feedback(0.5 + i * 0.05 + j, 0.3 + i * 0.03),
        history: m === "recsimu" ? history : undefined,
      }, seed)
    );
    ["recsimu-1", "recsimu-2", "recsimu-3"].forEach((l, i) =>
      push({
        id: `base:${l}:${seed}`,
        view: "base",
        model: "recsimu",
        label: l,
        feedback: feedback(0.6 + i * 0.02 + j, 0.4),
        history,
      }, seed)
    );
    for (const n of [1, 5, 10]) {
      push({
        id: `long:N${n}:${seed}`,
        view: "long",
        model: "recsimu",
        label: `N=${n}`,
        feedback: feedback(0.6 + n / 100 + j, 0.4),
        config: { ...c, seed, stateLength: n, minStateLength: n },
      }, seed);
    }
    for (const l of [0, 0.1, 0.3]) {
      push({
        id: `base:l${l}:${seed}`,
        view: "base",
        model: "recsimu",
        label: `lambda=${l}`,
        feedback: feedback(0.6 + l / 10 + j, 0.4),
        config: { ...c, seed, lambda: l },
      }, seed);
    }
    ["popularity", "fm", "wd", "gru4rec", "recsimu"].forEach((m, i) =>
      push({
        id: `fit:${m}:${seed}`,
        view: "fit",
        model: m,
        label: m,
        ranking: { map: 0.05 + i * 0.01 + j, ndcg: 0.15 + i * 0.01, k: 40, queries: 20 },
      }, seed)
    );
  }
  push({
    id: "fit:logs",
    view: "fit",
    model: "logs",
    label: "logs",
    ranking: { map: 0.1, ndcg: 0.2, k: 40, queries: 20 },
  }, null);
  return {
    format: RESULTS_FORMAT,
    settings: {
      data: { file: "x.csv", fingerprint: "abc" },
      config: c,
      heldOut: { fraction: 0.2, seed: 0 },
      k: 40,
      longHistory: 10,
      embeddings: "item2vec",
    },
    runs,
  };
}

Deno.test("the report renders every figure as inline SVG, Table 1 and the significance tests", async () => {
  const html = await renderReport(fakeResults());
  for (const id of REPORT_SECTIONS) assert(html.includes(`<section id="${id}">`), id);
  for (const fig of ["fig6", "fig7", "fig8a", "fig8b", "losses"]) {
    const at = html.indexOf(`data-figure="${fig}"`);
    assert(at > 0, `figure ${fig}`);
    assert(html.slice(at, at + 200).includes("<svg"), `figure ${fig} is an SVG`);
  }
  assert(!html.includes("No finished runs"));
  assert(html.includes('data-table="table1"'));
  assert(html.includes("gru4rec") && html.includes("Logs"));
  // Mean ± std and the paired tests of RecSimu against the best baseline (gan-s here).
  assert(/0\.8\d{3} ± 0\.0100/.test(html), "RecSimu's AUC 0.80 + seed·0.01 as mean ± std");
  assert(html.includes("<td>gan-s</td>"));
  // RecSimu + item bias has its own test against the best baseline, and is not itself the
  // "best baseline" of RecSimu's test although its scores are higher.
  assert(html.includes("<td>recsimu+ib</td>"));
  const ib = html.indexOf("RecSimu + item bias (beyond the paper)");
  assert(ib > 0, "the item-bias comparison table");
  const plain = html.slice(html.lastIndexOf("<table", ib - 1), ib);
  assert(!plain.includes("<td>recsimu+ib</td>"), "RecSimu is compared with baselines only");
  assert(/0\.8\d{3} ± 0\.0100/.test(html.slice(ib, ib + 2000)), "recsimu+ib AUC 0.85 ± 0.01");
  assert(html.includes("p (W)"));
  // Self-contained: no script and nothing loaded from elsewhere.
  assert(!html.includes("<script"));
  assert(!/(src|href)="https?:/.test(html));
});

Deno.test("the report of a partial experiment says which figures are missing", async () => {
  const r = fakeResults();
  r.runs = r.runs.filter((x) => x.view === "base" && !x.label.startsWith("lambda"));
  const html = await renderReport(r);
  assert(html.includes('data-figure="fig6"'));
  assert(html.includes("No finished runs for Table 1"));
  assert(html.includes("No finished runs for Figure 8"));
});

Deno.test("the report prints one seed's value without a spread, two or more with mean ± std", async () => {
  const r = fakeResults();
  r.runs = r.runs.filter((x) => x.seed === 0 || x.seed === null);
  const html = await renderReport(r);
  const row = /<tr><td>recsimu<\/td>(.*?)<\/tr>/.exec(html)?.[1] ?? "";
  assert(row.includes("<td>0.8000</td>"), row); // AUC of seed 0, no "± 0.0000"
  assert(!row.includes("±"), row);
});

Deno.test("experiment trains the paper's networks with a temperature alone unless --arch and --calibrate say otherwise", () => {
  const plain = planFlags({}).config;
  assertEquals([plain.arch, plain.calibrate], ["paper", "temperature"]);
  const given = planFlags({ arch: "attn", calibrate: "temperature-bias" }).config;
  assertEquals([given.arch, given.calibrate], ["attn", "temperature-bias"]);
});
