/**
 * The judge's offline HTML report: one self-contained page with the main tables, a reliability
 * diagram of P(positive) (predicted vs observed positive rate per bin, with the counts; against
 * the TRUE probabilities too on a truth world) and, on a truth world, the true vs simulated
 * policy returns with the y = x line. The charts are Vega-Lite specifications rendered to inline
 * SVG by the experiment report's machinery (`lib/experiment/charts.ts`), and each specification
 * is embedded as JSON beside its chart, so the page needs no network and the charts can be
 * re-rendered elsewhere. On a log, a last section gives the learned leave model on the held-out
 * sessions (or why there is none).
 * @module
 */
import type { TopLevelSpec } from "npm:vega-lite@6.5.0";
import { renderSvg } from "../experiment/charts.ts";
import type { FidelityReport } from "./judge.ts";
import type { BaselineCaseScores } from "./prediction.ts";
import type { LogFidelityReport } from "./log_judge.ts";
import type { ReliabilityBin, ScorerReport } from "./log_scores.ts";
import type { SessionFidelity } from "./session_fidelity.ts";

/** The tag that marks a page as this report (the check before `--overwrite` replaces it). */
export const FIDELITY_HTML_MARKER = '<meta name="generator" content="recsimu-fidelity-report">';

const SCHEMA = "https://vega.github.io/schema/vega-lite/v6.json";

/** HTML-escaped text. */
function esc(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(
    /"/g,
    "&quot;",
  );
}

/** A number to `d` decimals, "–" when it is not finite. */
function num(x: number | null | undefined, d = 4): string {
  return typeof x === "number" && Number.isFinite(x) ? x.toFixed(d) : "–";
}

/** One scorer's reliability bins, named. */
export interface ReliabilitySeries {
  scorer: string;
  bins: readonly ReliabilityBin[];
}

/**
 * The reliability diagram: per bin of P(positive), the observed positive rate (and the mean
 * true probability where the bins have it) against the mean prediction, point size by count,
 * the y = x line of perfect calibration; below it, the tuples per bin.
 */
export function reliabilitySpec(series: readonly ReliabilitySeries[], title: string): TopLevelSpec {
  const values = series.flatMap((s) =>
    s.bins.filter((b) => b.n > 0).flatMap((b) => [
      {
        scorer: s.scorer,
        target: "observed rate",
        predicted: b.mean_predicted,
        value: b.positive_rate,
        n: b.n,
        bin: `${b.lo.toFixed(2)}–${b.hi.toFixed(2)}`,
      },
      ...(b.mean_true === undefined ? [] : [{
        scorer: s.scorer,
        target: "true probability",
        predicted: b.mean_predicted,
        value: b.mean_true,
        n: b.n,
        bin: `${b.lo.toFixed(2)}–${b.hi.toFixed(2)}`,
      }]),
    ])
  );
  const unit = { type: "quantitative", scale: { domain: [0, 1] } } as const;
  return {
    $schema: SCHEMA,
    title,
    data: { values },
    vconcat: [
      {
        width: 360,
        height: 300,
        layer: [
          {
            data: { values: [{ x: 0, y: 0 }, { x: 1, y: 1 }] },
            mark: { type: "line", color: "#999", strokeDash: [4, 4] },
            encoding: { x: { field: "x", ...unit }, y: { field: "y", ...unit } },
          },
          {
            mark: { type: "line" },
            encoding: {
              x: { field: "predicted", ...unit, title: "mean predicted P(positive)" },
              y: { field: "value", ...unit, title: "observed positive rate / true P(positive)" },
              color: { field: "scorer", type: "nominal" },
              strokeDash: { field: "target", type: "nominal", title: "against" },
            },
          },
          {
            mark: { type: "point", filled: true, opacity: 0.8 },
            encoding: {
              x: { field: "predicted", type: "quantitative" },
              y: { field: "value", type: "quantitative" },
              color: { field: "scorer", type: "nominal" },
              size: {
                field: "n",
                type: "quantitative",
                title: "tuples",
                scale: { range: [15, 250] },
              },
            },
          },
        ],
      },
      {
        width: 360,
        height: 120,
        transform: [{ filter: "datum.target === 'observed rate'" }],
        mark: "bar",
        encoding: {
          x: { field: "bin", type: "ordinal", title: "bin of predicted P(positive)" },
          xOffset: { field: "scorer", type: "nominal" },
          y: { field: "n", type: "quantitative", title: "tuples" },
          color: { field: "scorer", type: "nominal" },
        },
      },
    ],
  } as TopLevelSpec;
}

/** True against simulated mean return, one point per policy, with the y = x line. */
export function returnScatterSpec(
  rows: readonly { name: string; simulated: number; true: number }[],
): TopLevelSpec {
  const all = rows.flatMap((r) => [r.simulated, r.true]).filter(Number.isFinite);
  const lo = Math.min(0, ...all), hi = Math.max(1, ...all) * 1.05;
  const axis = { type: "quantitative", scale: { domain: [lo, hi] } } as const;
  return {
    $schema: SCHEMA,
    title: "Policy returns: true vs simulated (y = x is a faithful simulator)",
    width: 360,
    height: 360,
    layer: [
      {
        data: { values: [{ x: lo, y: lo }, { x: hi, y: hi }] },
        mark: { type: "line", color: "#999", strokeDash: [4, 4] },
        encoding: { x: { field: "x", ...axis }, y: { field: "y", ...axis } },
      },
      {
        data: { values: rows.map((r) => ({ ...r })) },
        layer: [
          {
            mark: { type: "point", filled: true, size: 60 },
            encoding: {
              x: { field: "true", ...axis, title: "true mean return" },
              y: { field: "simulated", ...axis, title: "simulated mean return" },
            },
          },
          {
            mark: { type: "text", align: "left", dx: 6, fontSize: 10 },
            encoding: {
              x: { field: "true", type: "quantitative" },
              y: { field: "simulated", type: "quantitative" },
              text: { field: "name" },
            },
          },
        ],
      },
    ],
  } as TopLevelSpec;
}

/** A chart: its SVG, and its specification as JSON (`<` escaped, so it cannot end the script). */
async function chart(name: string, spec: TopLevelSpec): Promise<string> {
  const json = JSON.stringify(spec).replace(/</g, "\\u003c");
  return `<figure class="chart" data-chart="${esc(name)}">${await renderSvg(spec)}</figure>
<script type="application/json" class="vega-lite-spec" data-chart="${esc(name)}">${json}</script>`;
}

/** An HTML table. */
function table(caption: string, head: readonly string[], rows: readonly string[][]): string {
  const th = head.map((h) => `<th>${esc(h)}</th>`).join("");
  const body = rows.map((r) => `<tr>${r.map((c) => `<td>${esc(c)}</td>`).join("")}</tr>`);
  return `<table><caption>${esc(caption)}</caption><thead><tr>${th}</tr></thead><tbody>${
    body.join("")
  }</tbody></table>`;
}

/** The page around the sections. */
function page(title: string, intro: string, sections: readonly string[]): string {
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">${FIDELITY_HTML_MARKER}<title>${esc(title)}</title>
<style>
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1000px; color: #222; }
table { border-collapse: collapse; margin: 1em 0; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: right; }
th:first-child, td:first-child { text-align: left; }
caption { text-align: left; font-style: italic; padding-bottom: 0.3em; }
figure.chart { margin: 1em 0; }
</style></head><body>
<h1>${esc(title)}</h1>
<p>${intro}</p>
${sections.join("\n")}
</body></html>
`;
}

/** The scorers' table of a real-log report. */
function scorerTable(scores: Record<string, ScorerReport>): string {
  return table(
    "P(positive) on the answered held-out tuples (short: states < N)",
    [
      "scorer",
      "n",
      "AUC",
      "log-loss",
      "ECE",
      "Brier",
      "mean p",
      "multi-class log-loss",
      "AUC short",
      "AUC full",
    ],
    Object.entries(scores).map(([name, s]) => [
      name,
      String(s.n),
      num(s.positive.auc),
      num(s.positive.log_loss),
      num(s.positive.ece),
      num(s.positive.brier),
      num(s.positive.mean_p),
      num(s.log_loss),
      num(s.by_state.short.auc),
      num(s.by_state.full.auc),
    ]),
  );
}

/** The HTML report of a real-log judgement. */
export async function logReportHtml(r: LogFidelityReport, model: string): Promise<string> {
  const c = r.tuples;
  const reasons = Object.entries(c.refused_by_reason).filter(([, n]) => n > 0)
    .map(([why, n]) => `${n} ${why.replaceAll("_", " ")}`).join(", ");
  const sim = r.scores.simulator!;
  const perLabel = table(
    "The simulator per label (one-vs-rest)",
    ["label", "rate", "AUC", "log-loss", "ECE", "mean p"],
    Object.entries(sim.per_label ?? {}).map((
      [l, s],
    ) => [l, num(s.rate), num(s.auc), num(s.log_loss), num(s.ece), num(s.mean_p)]),
  );
  const replay = table(
    "Replay: logged vs expected return per held-out session (teacher-forced)",
    [
      "scorer",
      "sessions",
      "steps",
      "mean logged",
      "mean simulated",
      "ratio",
      "correlation",
      "per step",
    ],
    Object.entries(r.replay).map((
      [name, p],
    ) => [
      name,
      String(p.sessions),
      String(p.steps),
      num(p.mean_logged, 3),
      num(p.mean_simulated, 3),
      num(p.ratio, 3),
      num(p.correlation, 3),
      num(p.correlation_per_step, 3),
    ]),
  );
  const series = Object.entries(r.scores).map(([scorer, s]) => ({ scorer, bins: s.reliability }));
  const intro = `Model <code>${esc(model)}</code> on <code>${
    esc(r.log.file)
  }</code>: ${c.held_out_sessions} held-out sessions (split users, holdout ${r.config.split.holdout}, seed ${r.config.split.seed}), ${c.answered} of ${c.tuples} tuples answered${
    reasons ? ` (refused: ${esc(reasons)})` : ""
  }, ${c.short_state} with states shorter than N = ${r.config.state_length}.`;
  return page("recsimu fidelity: held-out users of a log", intro, [
    `<section id="scores"><h2>Prediction</h2>${scorerTable(r.scores)}${perLabel}</section>`,
    `<section id="reliability"><h2>Reliability</h2>${await chart(
      "reliability",
      reliabilitySpec(series, "Reliability of P(positive) on the held-out tuples"),
    )}</section>`,
    `<section id="replay"><h2>Replay</h2>${replay}</section>`,
    `<section id="sessions"><h2>Sessions (learned leave model)</h2>${
      r.sessions ? sessionTables(r.sessions) : `<p>${esc(r.notes.sessions ?? "")}</p>`
    }</section>`,
  ]);
}

/** The leave prediction and the logged vs simulated session lengths. */
function sessionTables(s: SessionFidelity): string {
  const ev = (name: string, e: SessionFidelity["leave"]) => [
    name,
    String(e?.sessions ?? 0),
    String(e?.rows ?? 0),
    num(e?.base_rate),
    num(e?.auc),
    num(e?.log_loss),
    num(e?.base_log_loss),
  ];
  const leave = table(
    "P(the user leaves after this row) on the held-out sessions' rows (yes on each last row)",
    ["sessions", "n", "rows", "leave rate", "AUC", "log-loss", "base rate's log-loss"],
    [
      ev("all held-out", s.leave),
      ...(s.leave_fit.seen === null ? [] : [ev("not in the leave fit", s.leave_fit.unseen)]),
    ],
  );
  const L = s.lengths;
  const row = (name: string, x: SessionFidelity["lengths"]["logged"], cut: string) => [
    name,
    String(x.count),
    num(x.mean, 1),
    num(x.min, 0),
    num(x.p10, 1),
    num(x.median, 1),
    num(x.p90, 1),
    num(x.max, 0),
    cut,
  ];
  const lengths = table(
    `Session lengths: logged vs simulated (replay policy, seed ${L.seed}, cut at ${L.max_steps} steps)`,
    ["sessions", "n", "mean", "min", "p10", "median", "p90", "max", "cut"],
    [
      row("logged", L.logged, ""),
      ...(L.simulated ? [row("simulated", L.simulated, String(L.simulated.truncated))] : []),
    ],
  );
  const seen = s.leave_fit.seen === null
    ? ""
    : ` The leave fit saw ${s.leave_fit.seen} of the ${s.held_out_sessions} held-out sessions.`;
  const ks = L.simulated
    ? ` Kolmogorov–Smirnov distance ${num(L.ks, 3)} (rejects the same distribution at 5% above ${
      num(L.ks_critical_05, 3)
    }).`
    : " No sessions were simulated.";
  return `${leave}${lengths}<p>${esc((seen + ks).trim())}</p>`;
}

/** The simulator beside the baselines on each split of the truth cases (none: ""). */
function baselinesTable(r: FidelityReport): string {
  const names = r.config.baselines;
  const p = r.prediction;
  return names.length === 0 ? "" : table(
    "The simulator beside the baselines fitted on log.csv's training tuples (same cases; lr: P(positive) only)",
    [
      "split",
      "scorer",
      "AUC",
      "log-loss",
      "log-loss P(pos)",
      "ECE",
      "ECE vs truth",
      "MAE vs truth",
      "KL",
    ],
    (["overall", "logging", "random"] as const).flatMap((k) => {
      const s = p[k];
      const scorers: [string, BaselineCaseScores][] = [[r.responder, s.simulator]];
      for (const n of names) if (s[n]) scorers.push([n, s[n]]);
      return scorers.map(([name, x]) => [
        k,
        name,
        num(x.auc),
        num(x.log_loss),
        num(x.log_loss_positive),
        num(x.ece),
        num(x.ece_vs_truth),
        num(x.mae_vs_truth),
        num(x.kl_to_truth),
      ]);
    }),
  );
}

/** What the heads' spread says about the simulator's errors, per split (no spreads: ""). */
function spreadTable(r: FidelityReport): string {
  const p = r.prediction;
  const rows = (["overall", "logging", "random"] as const).flatMap((k) => {
    const x = p[k].spread;
    return x
      ? [[
        k,
        num(x.mean),
        num(x.error_spearman, 3),
        num(x.p_error_spearman, 3),
        num(x.mae_top_decile),
        num(x.mae_rest),
      ]]
      : [];
  });
  return rows.length === 0 ? "" : table(
    "The heads' spread of P(positive) against the errors |p_sim − p_true| (a spread that ranks the errors no better than P(positive) itself says little)",
    [
      "split",
      "mean spread",
      "Spearman with error",
      "P(positive)'s own",
      "MAE, top 10% by spread",
      "MAE, rest",
    ],
    rows,
  );
}

/** The HTML report of a truth-world judgement. */
export async function truthReportHtml(r: FidelityReport, model: string): Promise<string> {
  const p = r.prediction;
  const splits = (["overall", "logging", "random"] as const).map((k) => {
    const s = p[k];
    return [
      k,
      String(s.n),
      num(s.simulator.auc),
      num(s.truth.auc),
      num(s.popularity.auc),
      num(s.simulator.log_loss),
      num(s.truth.log_loss),
      num(s.simulator.ece),
      num(s.simulator.ece_vs_truth),
      num(s.simulator.kl_to_truth),
      num(s.posterior?.auc),
      num(s.posterior?.log_loss),
    ];
  });
  const pol = r.policies;
  const beside = baselinesTable(r);
  const rows = pol.rows.map((x) => ({
    name: x.name,
    simulated: x.simulated.mean,
    true: x.true.mean,
  }));
  const intro = `Model <code>${esc(model)}</code> against the truth world <code>${
    esc(r.truth.dir)
  }</code>: ${p.coverage.answered} of ${p.coverage.cases} cases answered; ${pol.rows.length} policies, ${pol.start_states} start states × ${pol.rollouts} rollouts × ${pol.horizon} steps; Spearman ${
    num(pol.spearman, 3)
  }, Kendall ${num(pol.kendall, 3)}; the simulator's top policy ${
    esc(pol.simulator_top.name)
  } (true ${num(pol.simulator_top.true, 2)}), truly best ${esc(pol.true_best.name)} (${
    num(pol.true_best.true, 2)
  }).`;
  const series = [
    { scorer: r.responder, bins: p.overall.reliability },
    ...(p.overall.posterior_reliability
      ? [{ scorer: "observable ceiling", bins: p.overall.posterior_reliability }]
      : []),
  ];
  return page("recsimu fidelity: a known-truth world", intro, [
    `<section id="prediction"><h2>Prediction</h2>${
      table("Cases answered (simulator / truth / popularity)", [
        "split",
        "n",
        "AUC sim",
        "AUC truth",
        "AUC pop.",
        "log-loss sim",
        "log-loss truth",
        "ECE",
        "ECE vs truth",
        "KL",
        "AUC ceiling",
        "log-loss ceiling",
      ], splits)
    }${beside}${spreadTable(r)}</section>`,
    `<section id="reliability"><h2>Reliability</h2>${await chart(
      "reliability",
      reliabilitySpec(
        series,
        "Reliability of P(positive): observed rate and true probability per bin",
      ),
    )}</section>`,
    `<section id="policies"><h2>Policies</h2>${await chart("returns", returnScatterSpec(rows))}${
      table(
        "Mean return per episode",
        ["policy", "simulated", "true", "relative error"],
        pol.rows.map((
          x,
        ) => [x.name, num(x.simulated.mean, 3), num(x.true.mean, 3), num(x.relative_error, 3)]),
      )
    }${agentTable(r)}</section>`,
  ]);
}

/** The agent trained in the simulator, in it and in the truth (no agent: ""). */
function agentTable(r: FidelityReport): string {
  const a = r.agent;
  if (!a) return "";
  const b = a.behaviour;
  return table(
    `An agent trained in the simulator (${a.training.episodes} episodes), played in it and in the TRUE world on the same episodes; rank among the ${
      a.rank.of - 1
    } reference policies and itself`,
    [
      "simulated",
      "true",
      "relative error",
      "rank simulated",
      "rank true",
      "same category (logging)",
      "distinct items (logging)",
    ],
    [[
      num(a.simulated.mean, 3),
      num(a.true.mean, 3),
      num(a.relative_error, 3),
      `${a.rank.simulated} of ${a.rank.of}`,
      `${a.rank.true} of ${a.rank.of}`,
      `${num(b.policy.same_category, 3)} (${num(b.logging.same_category, 3)})`,
      `${b.policy.distinct_items} (${b.logging.distinct_items})`,
    ]],
  );
}
