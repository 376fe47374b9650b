/**
 * The experiment report: one self-contained HTML file (inline SVG and CSS, no script, nothing
 * fetched) with Figures 6–8 and Table 1 of the paper, mean ± std over seeds everywhere, paired
 * significance tests of RecSimu against the best baseline, and RecSimu's training losses.
 * Each section is drawn by its own function from the results alone.
 * @module
 */
import { join } from "node:path";
import { writeFileAtomic } from "../atomic.ts";
import { meanStd, pairedTTest, wilcoxonSignedRank } from "../eval/metrics.ts";
import { relativeDifference } from "../eval/generator_quality.ts";
import type { TrainConfig } from "../config.ts";
import { ABLATION_VARIANTS, ITEM_BIAS_LABEL, OVERALL_MODELS, RECOMMENDERS } from "./suites.ts";
import type { ExperimentSettings, ResultsFile, RunRecord } from "./results.ts";
import { groupedBars, lossCurves, renderSvg, sensitivityLines, type Summary } from "./charts.ts";

/** Figure and table sections the report contains, by element id. */
export const REPORT_SECTIONS = ["fig6", "fig7", "fig8", "table1", "losses"] as const;

const FEEDBACK_METRICS = [["f1", "F1"], ["auc", "AUC"]] as const;

function finite(x: unknown): x is number {
  return typeof x === "number" && Number.isFinite(x);
}

function summarise(xs: readonly (number | null | undefined)[]): Summary {
  const v = xs.filter(finite);
  const s = meanStd(v);
  return { mean: s.mean, std: s.std, n: s.n };
}

function esc(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(
    /"/g,
    "&quot;",
  );
}

function num(x: number, digits = 4): string {
  return Number.isFinite(x) ? x.toFixed(digits) : "–";
}

function pm(s: Summary, digits = 4, scale = 1): string {
  if (s.n === 0) return "–";
  // One seed has no spread: print the value alone rather than a misleading "± 0".
  if (s.n === 1) return num(s.mean * scale, digits);
  return `${num(s.mean * scale, digits)} ± ${num(s.std * scale, digits)}`;
}

function pValue(p: number): string {
  if (!Number.isFinite(p)) return "–";
  return p < 1e-4 ? p.toExponential(1) : p.toFixed(4);
}

/** Records of one feedback metric by label and seed. */
function valuesBySeed(
  runs: readonly RunRecord[],
  value: (r: RunRecord) => number | undefined | null,
): Map<string, Map<number, number>> {
  const out = new Map<string, Map<number, number>>();
  for (const r of runs) {
    const v = value(r);
    if (!finite(v) || r.seed === null) continue;
    let m = out.get(r.label);
    if (!m) out.set(r.label, m = new Map());
    m.set(r.seed, v);
  }
  return out;
}

interface Comparison {
  metric: string;
  ours: Summary;
  best: string;
  theirs: Summary;
  t: number;
  tP: number;
  w: number;
  wP: number;
  pairs: number;
}

/** The label of `others` with the highest mean (lowest when `lowerIsBetter`), if any has runs. */
function bestOf(
  bySeed: Map<string, Map<number, number>>,
  others: readonly string[],
  lowerIsBetter: boolean,
): string | undefined {
  let best: string | undefined, bestMean = NaN;
  for (const o of others) {
    const m = bySeed.get(o);
    if (!m || m.size === 0) continue;
    const mean = summarise([...m.values()]).mean;
    if (best === undefined || (lowerIsBetter ? mean < bestMean : mean > bestMean)) {
      best = o;
      bestMean = mean;
    }
  }
  return best;
}

/**
 * Paired tests of `ours` against the best other label (highest mean, or lowest when
 * `lowerIsBetter`), pairing runs by seed.
 */
function compareBest(
  bySeed: Map<string, Map<number, number>>,
  ours: string,
  others: readonly string[],
  metric: string,
  lowerIsBetter = false,
): Comparison | undefined {
  const mine = bySeed.get(ours);
  if (!mine) return undefined;
  const best = bestOf(bySeed, others, lowerIsBetter);
  if (best === undefined) return undefined;
  const theirs = bySeed.get(best)!;
  const seeds = [...mine.keys()].filter((s) => theirs.has(s)).sort((a, b) => a - b);
  const a = seeds.map((s) => mine.get(s)!), b = seeds.map((s) => theirs.get(s)!);
  const t = pairedTTest(a, b), w = wilcoxonSignedRank(a, b);
  return {
    metric,
    ours: summarise([...mine.values()]),
    best,
    theirs: summarise([...theirs.values()]),
    t: t.t,
    tP: t.p,
    w: w.w,
    wP: w.p,
    pairs: seeds.length,
  };
}

/** F1 and AUC of `ours` against the best of `others`, paired by seed. */
function feedbackComparisons(
  runs: readonly RunRecord[],
  ours: string,
  others: readonly string[],
): (Comparison | undefined)[] {
  return FEEDBACK_METRICS.map(([k, name]) =>
    compareBest(valuesBySeed(runs, (r) => r.feedback?.[k]), ours, others, name)
  );
}

function comparisonTable(rows: (Comparison | undefined)[], oursName: string): string {
  const body = rows.filter((r): r is Comparison => r !== undefined).map((r) =>
    `<tr><td>${esc(r.metric)}</td><td>${pm(r.ours)}</td><td>${esc(r.best)}</td><td>${
      pm(r.theirs)
    }</td><td>${num(r.ours.mean - r.theirs.mean)}</td><td>${num(r.t, 3)}</td><td>${
      pValue(r.tP)
    }</td><td>${num(r.w, 1)}</td><td>${pValue(r.wP)}</td><td>${r.pairs}</td></tr>`
  ).join("\n");
  if (!body) return "";
  return `<table class="sig"><caption>Paired tests over seeds: ${
    esc(oursName)
  } against the best other model (two-sided; the Wilcoxon p is exact for ≤ 20 pairs; both need ≥ 2 seeds, and ≥ 6 for the Wilcoxon test to reach p &lt; 0.05)</caption>
<thead><tr><th>metric</th><th>${
    esc(oursName)
  }</th><th>best other</th><th>its score</th><th>Δ mean</th><th>t</th><th>p (t)</th><th>W</th><th>p (W)</th><th>pairs</th></tr></thead>
<tbody>${body}</tbody></table>`;
}

function feedbackTable(
  labels: readonly string[],
  runs: readonly RunRecord[],
  head = "model",
): string {
  const rows = labels.map((l) => {
    const rs = runs.filter((r) => r.label === l);
    if (rs.length === 0) return "";
    const cell = (f: (r: RunRecord) => number | undefined) => pm(summarise(rs.map(f)));
    return `<tr><td>${esc(l)}</td><td>${cell((r) => r.feedback?.f1)}</td><td>${
      cell((r) => r.feedback?.auc)
    }</td><td>${cell((r) => r.feedback?.logLoss)}</td><td>${rs.length}</td><td>${
      num(summarise(rs.map((r) => r.seconds)).mean, 1)
    }</td></tr>`;
  }).join("\n");
  return `<table><thead><tr><th>${head}</th><th>F1</th><th>AUC</th><th>log-loss</th><th>seeds</th><th>s / run</th></tr></thead><tbody>${rows}</tbody></table>`;
}

const missing = (what: string) =>
  `<p class="missing">No finished runs for ${esc(what)} yet (run its suite).</p>`;

/** The bars of Figures 6 and 7: F1 and AUC of each label, summarised over its runs. */
function barRows(
  labels: readonly string[],
  runs: readonly RunRecord[],
): { label: string; metric: string; s: Summary }[] {
  return labels.flatMap((l) =>
    FEEDBACK_METRICS.map(([k, name]) => ({
      label: l,
      metric: name,
      s: summarise(runs.filter((r) => r.label === l).map((r) => r.feedback?.[k])),
    }))
  );
}

/** Figure 6: every model on the base tuples, and each RecSimu flavour against the best baseline. */
async function figure6(runs: readonly RunRecord[]): Promise<string> {
  const rs = runs.filter((r) =>
    r.view === "base" && (OVERALL_MODELS as readonly string[]).includes(r.label) && r.feedback
  );
  const labels = OVERALL_MODELS.filter((m) => rs.some((r) => r.label === m));
  let body = missing("Figure 6");
  if (labels.length) {
    const bars = groupedBars(barRows(labels, rs), labels, "Overall performance (test tuples)");
    const svg = await renderSvg(bars);
    // Each RecSimu flavour against the best baseline (not against the other flavour).
    const baselines = labels.filter((l) => l !== "recsimu" && l !== ITEM_BIAS_LABEL);
    const sig = (ours: string) => feedbackComparisons(rs, ours, baselines);
    body = `<figure class="chart" data-figure="fig6">${svg}</figure>\n${
      feedbackTable(labels, rs)
    }\n${comparisonTable(sig("recsimu"), "RecSimu")}\n${
      comparisonTable(sig(ITEM_BIAS_LABEL), "RecSimu + item bias (beyond the paper)")
    }`;
  }
  return `<section id="fig6"><h2>Figure 6 — overall performance</h2>${body}</section>`;
}

/** Figure 7: the ablation variants (item_rate as the reference), RecSimu against the best. */
async function figure7(runs: readonly RunRecord[]): Promise<string> {
  const variants: string[] = [...ABLATION_VARIANTS];
  const rs = runs.filter((r) =>
    r.view === "base" && r.model === "recsimu" && variants.includes(r.label) && r.feedback
  );
  const ref = runs.filter((r) => r.view === "base" && r.label === "item_rate" && r.feedback);
  const labels = [
    ...(ref.length ? ["item_rate"] : []),
    ...variants.filter((v) => rs.some((r) => r.label === v)),
  ];
  let body = missing("Figure 7");
  if (rs.length) {
    const all = [...ref, ...rs];
    const bars = groupedBars(barRows(labels, all), labels, "Component analysis (test tuples)");
    const svg = await renderSvg(bars);
    const sig = feedbackComparisons(rs, "recsimu", variants.filter((v) => v !== "recsimu"));
    body =
      `<p>RecSimu-1: one fake class; RecSimu-2: β = 0 (no L<sub>supG</sub>); RecSimu-3: no adversarial terms (G pre-trained, then D on L<sub>supD</sub> only). item_rate is the reference baseline.</p>
<figure class="chart" data-figure="fig7">${svg}</figure>\n${
        feedbackTable(labels, all, "variant")
      }\n${comparisonTable(sig, "RecSimu")}`;
  }
  return `<section id="fig7"><h2>Figure 7 — component analysis</h2>${body}</section>`;
}

/** One panel of Figure 8: RecSimu over one parameter's grid. */
interface Sweep {
  param: "stateLength" | "lambda";
  view: "long" | "base";
  title: string;
  xTitle: string;
  figure: string;
}

/**
 * A sweep's chart and table: the RecSimu runs of its view that differ from the base
 * configuration in `param` only; undefined below two grid points (one is not a sweep).
 */
async function sweep(
  runs: readonly RunRecord[],
  base: TrainConfig,
  p: Sweep,
): Promise<{ panel: string; table: string } | undefined> {
  const { param, view } = p;
  const sameElse = (c: TrainConfig) =>
    JSON.stringify({ ...c, [param]: 0, minStateLength: 0, seed: 0 });
  const grid = [
    ...new Set(
      runs.filter((r) => r.view === view && r.model === "recsimu").map((r) => r.config[param]),
    ),
  ].sort((a, b) => a - b);
  const pts = grid.map((x) => {
    const rs = runs.filter((r) =>
      r.view === view && r.model === "recsimu" && r.config[param] === x && r.feedback &&
      sameElse(r.config) === sameElse(base)
    );
    return { x, rs };
  }).filter((pt) => pt.rs.length > 0);
  if (pts.length < 2) return undefined;
  const rows = pts.flatMap((pt) =>
    FEEDBACK_METRICS.map(([k, name]) => ({
      x: pt.x,
      metric: name,
      s: summarise(pt.rs.map((r) => r.feedback?.[k])),
    }))
  );
  const svg = await renderSvg(sensitivityLines(rows, p.xTitle, p.title));
  const panel = `<figure class="chart" data-figure="${p.figure}">${svg}</figure>`;
  const table = `<table><caption>${esc(p.title)}</caption><thead><tr><th>${
    esc(p.xTitle)
  }</th><th>F1</th><th>AUC</th><th>seeds</th></tr></thead><tbody>${
    pts.map((pt) =>
      `<tr><td>${pt.x}</td><td>${pm(summarise(pt.rs.map((r) => r.feedback?.f1)))}</td><td>${
        pm(summarise(pt.rs.map((r) => r.feedback?.auc)))
      }</td><td>${pt.rs.length}</td></tr>`
    ).join("")
  }</tbody></table>`;
  return { panel, table };
}

/** Figure 8: (a) the state length N on the long-history tuples, (b) the weight λ. */
async function figure8(runs: readonly RunRecord[], s: ExperimentSettings): Promise<string> {
  const ref = runs.filter((r) => r.view === "base" && r.label === "item_rate" && r.feedback);
  const refLine = ref.length
    ? `<p>Reference: item_rate on the base tuples, F1 ${
      pm(summarise(ref.map((r) => r.feedback?.f1)))
    }, AUC ${pm(summarise(ref.map((r) => r.feedback?.auc)))}.</p>`
    : "";
  const sweeps = [
    await sweep(runs, s.config, {
      param: "stateLength",
      view: "long",
      title: "(a) state length N",
      xTitle: "N",
      figure: "fig8a",
    }),
    await sweep(runs, s.config, {
      param: "lambda",
      view: "base",
      title: "(b) weight λ of the fake-class term",
      xTitle: "λ",
      figure: "fig8b",
    }),
  ].filter((x) => x !== undefined);
  const body = sweeps.length
    ? `<p>(a) every N is trained and tested on the same tuples: those whose action has at least max N = ${s.longHistory} earlier rows in its session. (b) λ on the base tuples.</p><div class="row">${
      sweeps.map((x) => x.panel).join("")
    }</div>${sweeps.map((x) => x.table).join("")}${refLine}`
    : missing("Figure 8");
  return `<section id="fig8"><h2>Figure 8 — parameter sensitivity</h2>${body}</section>`;
}

/** Table 1's rows: MAP and NDCG of each recommender and their difference to the logs. */
function table1Rows(rs: readonly RunRecord[], logs: { map: number; ndcg: number }): string {
  return RECOMMENDERS.filter((m) => rs.some((r) => r.model === m)).map((m) => {
    const mine = rs.filter((r) => r.model === m);
    const map = summarise(mine.map((r) => r.ranking!.map));
    const nd = summarise(mine.map((r) => r.ranking!.ndcg));
    if (m === "logs") {
      return `<tr><td>Logs</td><td>${num(map.mean)}</td><td>–</td><td>${
        num(nd.mean)
      }</td><td>–</td><td>–</td></tr>`;
    }
    const dMap = summarise(mine.map((r) => relativeDifference(r.ranking!.map, logs.map)));
    const dNd = summarise(mine.map((r) => relativeDifference(r.ranking!.ndcg, logs.ndcg)));
    return `<tr><td>${esc(m)}</td><td>${pm(map)}</td><td>${pm(dMap, 2, 100)} %</td><td>${
      pm(nd)
    }</td><td>${pm(dNd, 2, 100)} %</td><td>${mine.length}</td></tr>`;
  }).join("\n");
}

/** RecSimu's difference to the logs against the closest other recommender's (lower is better). */
function table1Comparisons(
  rs: readonly RunRecord[],
  logs: { map: number; ndcg: number },
  k: number,
): (Comparison | undefined)[] {
  const others = RECOMMENDERS.filter((m) => m !== "logs" && m !== "recsimu");
  const models = rs.filter((r) => r.model !== "logs");
  const diff = (metric: "map" | "ndcg", name: string) =>
    compareBest(
      valuesBySeed(models, (r) => relativeDifference(r.ranking![metric], logs[metric])),
      "recsimu",
      others,
      name,
      true,
    );
  return [diff("map", "MAP diff."), diff("ndcg", `NDCG@${k} diff.`)];
}

/** Table 1: how close each recommender's ranking comes to the logging policy's. */
function table1(runs: readonly RunRecord[], s: ExperimentSettings): string {
  const rs = runs.filter((r) => r.view === "fit" && r.ranking);
  const logs = rs.find((r) => r.model === "logs")?.ranking;
  let body = missing("Table 1");
  if (rs.length && logs) {
    body = `<p>${logs.queries} held-out sessions (${
      (100 * s.heldOut.fraction).toFixed(0)
    } % of those with ≥ N + 1 rows, seed ${s.heldOut.seed}); top-${s.k} lists for each session's initial state; relevant items: the positive ones among the next ${s.k} logged actions. diff. = |M − M<sub>logs</sub>| / M<sub>logs</sub> (lower = closer to the logging policy).</p>
<table data-table="table1"><thead><tr><th>recommender</th><th>MAP</th><th>diff.</th><th>NDCG@${s.k}</th><th>diff.</th><th>seeds</th></tr></thead><tbody>${
      table1Rows(rs, logs)
    }</tbody></table>
${comparisonTable(table1Comparisons(rs, logs, s.k), "RecSimu's generator")}`;
  }
  return `<section id="table1"><h2>Table 1 — generator effectiveness</h2>${body}</section>`;
}

/** Each loss series of each ablation variant per epoch, summarised over seeds. */
function lossRows(
  rs: readonly RunRecord[],
): { label: string; x: number; series: string; s: Summary }[] {
  const acc = new Map<string, { label: string; x: number; series: string; v: number[] }>();
  for (const r of rs) {
    (r.history as { phase?: string; loss: Record<string, number> }[]).forEach((h, i) => {
      for (const [series, v] of Object.entries(h.loss)) {
        const key = `${r.label}|${i}|${series}`;
        let a = acc.get(key);
        if (!a) acc.set(key, a = { label: r.label, x: i + 1, series, v: [] });
        a.v.push(v);
      }
    });
  }
  return [...acc.values()].map((a) => ({
    label: a.label,
    x: a.x,
    series: a.series,
    s: summarise(a.v),
  }));
}

/** RecSimu's training losses of G and D per epoch, one panel per ablation variant. */
async function losses(runs: readonly RunRecord[]): Promise<string> {
  const rs = runs.filter((r) =>
    r.view === "base" && r.model === "recsimu" &&
    (ABLATION_VARIANTS as readonly string[]).includes(r.label) && r.history?.length
  );
  let body = missing("the loss curves (RecSimu runs)");
  if (rs.length) {
    body =
      `<p>loss/g_sup: G pre-training (L<sub>supG</sub>); loss/d_sup: D pre-training (L<sub>supD</sub>); loss/d and loss/g: the adversarial epochs (L<sub>D</sub>, L<sub>G</sub>), means over each epoch's steps.</p><figure class="chart" data-figure="losses">${await renderSvg(
        lossCurves(lossRows(rs)),
      )}</figure>`;
  }
  return `<section id="losses"><h2>Training losses of G and D</h2>${body}</section>`;
}

/** The data, the base configuration and the seconds per run of each view and model. */
function settingsSection(runs: readonly RunRecord[], s: ExperimentSettings): string {
  const times = new Map<string, RunRecord[]>();
  for (const r of runs) {
    const k = `${r.view}:${r.model}`;
    times.set(k, [...(times.get(k) ?? []), r]);
  }
  const timing = [...times].map(([k, rs]) =>
    `<tr><td>${esc(k)}</td><td>${rs.length}</td><td>${
      pm(summarise(rs.map((r) => r.seconds)), 1)
    }</td><td>${pm(summarise(rs.map((r) => r.cpuSeconds)), 1)}</td></tr>`
  ).join("");
  const total = runs.reduce((a, r) => a + r.seconds, 0);
  return `<section id="settings"><h2>Settings</h2>
<p>Data: <code>${esc(s.data.file)}</code> (sha256 ${
    esc(s.data.fingerprint.slice(0, 16))
  }…); embeddings: ${esc(s.embeddings)}; ${runs.length} finished runs, ${
    (total / 60).toFixed(1)
  } min of run time.</p>
<details><summary>Base training configuration</summary><pre>${
    esc(JSON.stringify(s.config, null, 1))
  }</pre></details>
<table><caption>Seconds per run (wall clock, and CPU time of the process)</caption><thead><tr><th>view:model</th><th>runs</th><th>wall s</th><th>CPU s</th></tr></thead><tbody>${timing}</tbody></table>
</section>`;
}

/** The HTML page around the sections. */
function page(sections: readonly string[], settings: string): string {
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>RecSimu experiments</title>
<style>
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #222; }
table { border-collapse: collapse; margin: 1em 0; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: right; }
th:first-child, td:first-child { text-align: left; }
caption { text-align: left; font-style: italic; padding-bottom: 0.3em; }
figure.chart { margin: 1em 0; }
.row { display: flex; flex-wrap: wrap; gap: 2em; }
.missing { color: #a00; }
</style></head><body>
<h1>RecSimu experiments</h1>
<p>Generated ${
    esc(new Date().toISOString())
  } from <code>results.json</code>. Every number is mean ± sample standard deviation over seeds; metrics are on the test tuples (the last tuple of each session) unless said otherwise.</p>
${sections.join("\n")}
${settings}
</body></html>
`;
}

/** Builds the report's HTML from the results. */
export async function renderReport(results: ResultsFile): Promise<string> {
  const { runs, settings: s } = results;
  const sections = [
    await figure6(runs),
    await figure7(runs),
    await figure8(runs, s),
    table1(runs, s),
    await losses(runs),
  ];
  return page(sections, settingsSection(runs, s));
}

/** Renders the report and writes `OUT/report.html` atomically; returns its path. */
export async function writeReport(out: string, results: ResultsFile): Promise<string> {
  const path = join(out, "report.html");
  await writeFileAtomic(path, await renderReport(results));
  return path;
}
