/**
 * `deno task fidelity:logs` (bench/fidelity_logs.ts, bench/_logs_summary.ts) on hand-made
 * fidelity reports and checkpoints in the layout the bench and the ml100k / MIND runs write
 * (`W/<log>/<config>/seed<s>/config.json`, `W/<log>/<config>/seed<s>.fidelity.json`): what it
 * reads, when it reuses a run, the paired summary and the verdict, and its command line. No
 * training runs here.
 * @module
 */
import { join } from "node:path";
import { assert, assertAlmostEquals, assertEquals, assertThrows } from "../_assert.ts";
import { runDeno } from "../_cli.ts";
import { tempDir } from "../_helpers.ts";
import type { TrainConfig } from "../../lib/config.ts";
import { seedFigures, type SeedRun, summariseSeeds } from "../../bench/_logs_summary.ts";
import {
  BenchInputError,
  configDifference,
  configName,
  expectedConfig,
  fileSha256,
  inspectRun,
  parseLogsBenchArgs,
  runLogsBench,
  runPaths,
} from "../../bench/fidelity_logs.ts";

const LOG_TEXT = "session_id,item_id,feedback\nu1,a,pos\nu1,b,neg\n";

/** A `recsimu fidelity --log` report with the fields the bench reads; AUCs per scorer. */
function report(
  auc: { simulator: number | null; item_rate: number; lr: number; gru: number },
  o: { config?: TrainConfig; fingerprint?: string; baselines?: string[] } = {},
): Record<string, unknown> {
  const scorer = (a: number | null, i: number) => ({
    n: 95,
    positive: { auc: a, log_loss: 0.6 + i / 100, ece: 0.05 + i / 100, brier: 0.2 },
    log_loss: i === 2 ? null : 0.7,
  });
  return {
    kind: "recsimu-fidelity-report",
    model: "M",
    format: 1,
    mode: "log",
    log: { file: "log.csv", fingerprint: o.fingerprint ?? "f", rows: 2, sessions: 1 },
    config: { baselines: o.baselines ?? ["item_rate", "lr", "gru"], split: { seed: 0 } },
    seconds: 12.5,
    tuples: { held_out_sessions: 7, tuples: 100, answered: 95, refused: 5, refused_share: 0.05 },
    scores: {
      simulator: scorer(auc.simulator, 0),
      item_rate: scorer(auc.item_rate, 1),
      lr: scorer(auc.lr, 2),
      gru: scorer(auc.gru, 3),
    },
    simulator: { config: o.config ?? expectedConfig([], 0) },
  };
}

Deno.test("seedFigures() reads the counts and each scorer's P(positive) AUC, log-loss and ECE", () => {
  const f = seedFigures(report({ simulator: 0.78, item_rate: 0.74, lr: 0.76, gru: 0.75 }));
  assertEquals([f.questions, f.answered, f.refused, f.refused_share], [100, 95, 5, 0.05]);
  assertEquals([f.held_out_sessions, f.judge_seconds], [7, 12.5]);
  assertEquals(f.scores.simulator, { n: 95, auc: 0.78, log_loss: 0.6, ece: 0.05 });
  assertEquals(f.scores.lr, { n: 95, auc: 0.76, log_loss: 0.62, ece: 0.07 });
  assertEquals([f.best_baseline, f.best_baseline_auc], ["lr", 0.76]);
  // null (JSON's NaN) is NaN and never the best; on a tie the first baseline stays best.
  const g = seedFigures(report({ simulator: null, item_rate: 0.7, lr: 0.7, gru: NaN }));
  assert(Number.isNaN(g.scores.simulator.auc));
  assertEquals([g.best_baseline, g.best_baseline_auc], ["item_rate", 0.7]);
  const bad = report({ simulator: 0.7, item_rate: 0.7, lr: 0.7, gru: 0.7 });
  delete (bad.scores as Record<string, Record<string, unknown>>).gru!.positive;
  assertThrows(() => seedFigures(bad), TypeError, "scores.gru.positive.auc: expected a number");
});

/** Seed runs whose simulator leads the per-seed best baseline by `leads`. */
function runs(leads: readonly (number | null)[]): SeedRun[] {
  return leads.map((lead, seed) =>
    lead === null ? { seed, missing: "report absent", fidelity_file: `seed${seed}.json` } : {
      seed,
      figures: seedFigures(report({ simulator: 0.7 + lead, item_rate: 0.6, lr: 0.7, gru: 0.65 })),
      fidelity_file: `seed${seed}.json`,
      reused: true,
    }
  );
}

Deno.test("summariseSeeds() meets the target when the simulator leads on all 5 seeds (p = 1/32)", () => {
  const s = summariseSeeds(runs([0.01, 0.02, 0.03, 0.04, 0.05]));
  assertEquals(s.complete_seeds, [0, 1, 2, 3, 4]);
  const best = s.paired.best;
  assertEquals([best.n, best.wins, best.p_one_sided, best.p_two_sided], [5, 5, 1 / 32, 2 / 32]);
  assertAlmostEquals(best.mean, 0.03, 1e-12);
  assertAlmostEquals(best.sd, Math.sqrt(0.001 / 4), 1e-12);
  // Against item_rate (0.6) the differences are 0.11 … 0.15.
  assertAlmostEquals(s.paired.item_rate.mean, 0.13, 1e-12);
  assertAlmostEquals(s.paired.item_rate.differences[0]!, 0.11, 1e-12);
  assertAlmostEquals(s.mean.simulator.auc, 0.73, 1e-12);
  assertAlmostEquals(s.mean.gru.ece, 0.08, 1e-12);
  assertEquals([s.mean.questions, s.mean.refused], [100, 5]);
  assertEquals([s.every_seed, s.target_met], [true, true]);
  assert(s.verdict.startsWith("met: "), s.verdict);
});

Deno.test("summariseSeeds() fails one losing seed, stays undecided while a seed is missing", () => {
  // One seed behind: flipping its sign raises the sum, so p = 2/32 > 0.05 even at mean > 0.
  const lost = summariseSeeds(runs([0.01, 0.02, 0.03, 0.04, -0.005]));
  assertEquals([lost.paired.best.p_one_sided, lost.every_seed, lost.target_met], [
    2 / 32,
    false,
    false,
  ]);
  assert(lost.verdict.startsWith("not met: "), lost.verdict);
  // Four seeds cannot reach 0.05 at all, and the verdict says so.
  const four = summariseSeeds(runs([0.01, 0.02, 0.03, 0.04]));
  assertEquals(four.target_met, false);
  assert(four.verdict.includes("4 seeds cannot reach p <= 0.05: at best 0.0625"), four.verdict);
  const missing = summariseSeeds(runs([0.01, null, 0.03, 0.04, 0.05]));
  assertEquals([missing.missing_seeds, missing.target_met, missing.paired.best.n], [[1], null, 4]);
  assert(missing.verdict.startsWith("undecided: seeds 1 missing"), missing.verdict);
  assertEquals(summariseSeeds(runs([null])).verdict, "undecided: no seed complete (1 missing)");
});

Deno.test("configDifference() names the first differing field; a field one side lacks is its default", () => {
  const want = expectedConfig([], 3);
  assertEquals([want.split, want.seed, want.arch], ["users", 3, "attn"]);
  assertEquals(configDifference({ ...want }, want), undefined);
  const { update: _, ...older } = want; // a config written before `update` existed
  assertEquals(configDifference(older, want), undefined);
  assertEquals(
    configDifference({ ...want, epochs: 5 }, want),
    "trained with epochs = 5, expected 3",
  );
  assertEquals(
    configDifference(older, { ...want, update: "fused" }),
    'trained with update = "sequential", expected "fused"',
  );
  assertEquals(
    configDifference({ ...want, extra: 1 }, want),
    "trained with extra = 1, expected nothing",
  );
  assertEquals(configDifference(undefined, want), "no training config recorded");
  // --arch paper changes the defaults that come with it.
  const paper = expectedConfig(["--arch", "paper"], 0);
  assertEquals([paper.heads, paper.minStateLength, paper.i2vEpochs], [1, 20, 1]);
});

Deno.test("inspectRun() reuses a matching report, judges a finished checkpoint, else trains", async () => {
  await using tmp = await tempDir();
  const p = runPaths(tmp.path, "ml100k", "default", 0);
  assertEquals(p.fidelity, join(tmp.path, "ml100k", "default", "seed0.fidelity.json"));
  const want = expectedConfig([], 0);
  const fp = "ab12";
  const state = async () => await inspectRun(p, want, fp);
  assertEquals(await state(), { state: "train", reason: "report absent; checkpoint absent" });
  await Deno.mkdir(p.model, { recursive: true });
  const ckpt = (phase: string, config = want, fingerprint = fp) =>
    Deno.writeTextFile(
      join(p.model, "config.json"),
      JSON.stringify({ config, data: { fingerprint }, position: { phase } }),
    );
  await ckpt("adv");
  assertEquals((await state()).state, "train");
  assert(JSON.stringify(await state()).includes('not finished (phase \\"adv\\")'));
  await ckpt("done", { ...want, hidden: 64 });
  assert(JSON.stringify(await state()).includes("checkpoint trained with hidden = 64"));
  await ckpt("done", want, "other");
  assert(JSON.stringify(await state()).includes("checkpoint trained on another log"));
  await ckpt("done");
  assertEquals(await state(), { state: "judge", reason: "report absent; checkpoint finished" });
  const write = (r: unknown) => Deno.writeTextFile(p.fidelity, JSON.stringify(r));
  const auc = { simulator: 0.8, item_rate: 0.7, lr: 0.7, gru: 0.7 };
  await write(report(auc, { config: { ...want, seed: 1 }, fingerprint: fp }));
  assert(JSON.stringify(await state()).includes("report trained with seed = 1, expected 0"));
  await write(report(auc, { fingerprint: "other" }));
  assert(JSON.stringify(await state()).includes("report it judged another log"));
  await write(report(auc, { baselines: ["item_rate"], fingerprint: fp }));
  assert(JSON.stringify(await state()).includes("lacks the baselines lr, gru"));
  await Deno.writeTextFile(p.fidelity, "{");
  assertEquals((await state()).state, "judge");
  await write(report(auc, { fingerprint: fp }));
  assertEquals((await state()).state, "done");
});

Deno.test("runLogsBench() --summary-only summarises the reports it finds and lists what is missing", async () => {
  await using tmp = await tempDir();
  const data = join(tmp.path, "data"), work = join(tmp.path, "W");
  await Deno.mkdir(join(data, "tiny"), { recursive: true });
  await Deno.writeTextFile(join(data, "tiny", "log.csv"), LOG_TEXT);
  const fp = await fileSha256(join(data, "tiny", "log.csv"));
  // What `train --split users --seed s --overwrite` (no other flags) and `fidelity --out` leave.
  for (const seed of [0, 2]) {
    const p = runPaths(work, "tiny", "default", seed);
    await Deno.mkdir(p.model, { recursive: true });
    const config = expectedConfig([], seed);
    const auc = { simulator: 0.8 - seed / 100, item_rate: 0.7, lr: 0.72, gru: 0.71 };
    await Deno.writeTextFile(p.fidelity, JSON.stringify(report(auc, { config, fingerprint: fp })));
  }
  const o = parseLogsBenchArgs([
    ...["--data-root", data, "--work", work, "--logs", "tiny", "--seeds", "0,1,2"],
    "--summary-only",
  ]);
  assert(o !== "help");
  const out = await runLogsBench(o) as {
    missing_runs: number;
    logs: { log: string; fingerprint: string; configs: Record<string, unknown>[] }[];
  };
  assertEquals([out.missing_runs, out.logs[0]!.log, out.logs[0]!.fingerprint], [1, "tiny", fp]);
  const c = out.logs[0]!.configs[0]! as unknown as ReturnType<typeof summariseSeeds> & {
    name: string;
    runs: SeedRun[];
  };
  assertEquals([c.name, c.complete_seeds, c.missing_seeds, c.target_met], [
    "default",
    [0, 2],
    [1],
    null,
  ]);
  assertEquals(c.runs[1], {
    seed: 1,
    missing: "report absent; checkpoint absent",
    fidelity_file: runPaths(work, "tiny", "default", 1).fidelity,
  });
  assertAlmostEquals(c.paired.best.mean, (0.08 + 0.06) / 2, 1e-12);
  assertAlmostEquals(c.paired.lr.differences[1]!, 0.06, 1e-12);
  // Nothing was written: the work folder holds only the hand-made files.
  const names = [];
  for await (const e of Deno.readDir(join(work, "tiny", "default"))) names.push(e.name);
  assertEquals(names.sort(), ["seed0", "seed0.fidelity.json", "seed2", "seed2.fidelity.json"]);
});

Deno.test("parseLogsBenchArgs() reads the defaults, --compare and refuses bad flags in one line", () => {
  const d = parseLogsBenchArgs([]);
  assert(d !== "help");
  assertEquals([d.logs, d.seeds, d.jobs, d.summaryOnly], [
    ["ml100k", "mind_small_subset"],
    [0, 1, 2, 3, 4],
    1,
    false,
  ]);
  assertEquals(d.configs, [{ name: "default", own: [], flags: [] }]);
  assert(d.dataRoot.endsWith("/shared/data") && d.work.endsWith("/runs/fidelity-logs"));
  const c = parseLogsBenchArgs(["--compare", "", "--arch paper", "--train-flags", "--epochs 1"]);
  assert(c !== "help");
  assertEquals(c.configs.map((x) => [x.name, x.flags]), [
    ["default", ["--epochs", "1"]],
    ["arch-paper", ["--epochs", "1", "--arch", "paper"]],
  ]);
  assertEquals(configName(["--item-bias", "--epochs", "5"]), "item-bias-epochs-5");
  assertEquals(parseLogsBenchArgs(["-h"]), "help");
  const bad: [string[], string][] = [
    [["--compare", "--seed 3"], "--compare #1: --seed is set by the bench"],
    [["--train-flags", "--epochs x"], '--train-flags: --epochs: expected a number, got "x"'],
    [["--train-flags", "--wat"], "--train-flags: Unknown option '--wat'"],
    [["--compare", "--epochs 5", "--epochs  5"], 'share the name "epochs-5"'],
    [["--jobs", "3"], "--jobs: expected 1 or 2"],
    [["--seeds", "1,1"], "a seed is repeated"],
    [["--logs", "../x"], "--logs: expected folder names"],
    [["--frobnicate"], 'unexpected argument "--frobnicate"'],
  ];
  for (const [args, message] of bad) {
    assertThrows(() => parseLogsBenchArgs(args), BenchInputError, message);
  }
});

Deno.test("the bench exits 2 with one line on a bad flag or a missing log", async () => {
  const flag = await runDeno(["run", "-A", "bench/fidelity_logs.ts", "--jobs", "9"]);
  assertEquals([flag.code, flag.stdout], [2, ""]);
  assertEquals(flag.stderr.trim(), "fidelity-logs: --jobs: expected 1 or 2, got 9");
  await using tmp = await tempDir();
  const log = await runDeno([
    ...["run", "-A", "bench/fidelity_logs.ts", "--data-root", tmp.path, "--logs", "nope"],
    "--summary-only",
  ]);
  assertEquals([log.code, log.stdout], [2, ""]);
  assert(
    log.stderr.trim().startsWith(
      `fidelity-logs: --logs nope: cannot read "${tmp.path}/nope/log.csv"`,
    ),
    log.stderr,
  );
  assertEquals(log.stderr.trim().split("\n").length, 1);
});
