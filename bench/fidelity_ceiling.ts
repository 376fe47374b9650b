/**
 * `deno task fidelity:ceiling`: how far could ANY simulator learned from a truth world's log get?
 * Judges the observable ceiling (lib/fidelity/posterior.ts: the world's own response model
 * averaged over the posterior of the user's latent given the history) with the same judge and
 * the same targets as `deno task fidelity`, on worlds already written by `recsimu synth --truth`
 * (e.g. the bench's work folder). JSON on stdout: per world the metrics and targets, then their
 * mean and the targets over all worlds.
 *
 *   deno task fidelity:ceiling --worlds W1,W2,... [--particles 1000] [--seed 0]
 * @module
 */
import { parseArgs } from "node:util";
import { judgeResponder } from "../lib/fidelity/judge.ts";
import { posteriorResponder } from "../lib/fidelity/posterior.ts";
import { loadTruthDir } from "../lib/fidelity/truth_dir.ts";
import { evaluateTargets, meanMetrics, worldMetrics } from "./_fidelity_summary.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    worlds: { type: "string" },
    particles: { type: "string", default: "1000" },
    seed: { type: "string", default: "0" },
  },
});
if (!values.worlds) {
  console.error("usage: deno task fidelity:ceiling --worlds W1,W2,... [--particles M] [--seed S]");
  Deno.exit(2);
}
const particles = Number(values.particles);
const seed = Number(values.seed);
const runs = [];
for (const dir of values.worlds.split(",")) {
  const t0 = performance.now();
  const truth = await loadTruthDir(dir);
  const responder = posteriorResponder(truth.world, { particles, seed });
  const report = await judgeResponder(responder, truth, { posteriorParticles: 0, quiet: false });
  const metrics = worldMetrics(report, { train_seconds: 0, train_peak_rss_mib: null });
  console.error(
    `${dir}: AUC ${metrics.auc.toFixed(3)} / ${metrics.truth_auc.toFixed(3)}, Spearman ${
      metrics.spearman.toFixed(3)
    }, max |rel. error| ${metrics.max_abs_relative_error.toFixed(3)} (${
      ((performance.now() - t0) / 1000).toFixed(0)
    } s)`,
  );
  runs.push({
    world: dir,
    metrics,
    targets: evaluateTargets([metrics]),
    policies: report.policies.rows,
  });
}
const all = runs.map((r) => r.metrics);
console.log(JSON.stringify(
  {
    kind: "recsimu-fidelity-ceiling",
    particles,
    seed,
    runs,
    mean: meanMetrics(all),
    targets: evaluateTargets(all),
  },
  (_, v) => (typeof v === "number" && !Number.isFinite(v) ? null : v),
  1,
));
