/**
 * The report's charts: Vega-Lite specifications (grouped bars, sensitivity lines, loss curves),
 * compiled by `vega-lite` and rendered to SVG by `vega`'s headless `View.toSVG()` (no canvas
 * needed: text is measured by estimate).
 * @module
 */
import * as vega from "npm:vega@6.4.0";
import { compile, type TopLevelSpec } from "npm:vega-lite@6.5.0";

/** A value summarised over seeds. */
export interface Summary {
  mean: number;
  std: number;
  n: number;
}

const SCHEMA = "https://vega.github.io/schema/vega-lite/v6.json";

/** The mean and the ends of its ±std error bar. */
function band(s: Summary): { mean: number; lo: number; hi: number } {
  return { mean: s.mean, lo: s.mean - s.std, hi: s.mean + s.std };
}

/** Renders a Vega-Lite specification to an SVG string. */
export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: "none" });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/** Grouped bars of F1 and AUC per label, with ±std error bars. */
export function groupedBars(
  rows: { label: string; metric: string; s: Summary }[],
  order: string[],
  title: string,
): TopLevelSpec {
  return {
    $schema: SCHEMA,
    title,
    width: Math.max(240, 40 * order.length),
    height: 260,
    data: {
      values: rows.map((r) => ({
        model: r.label,
        metric: r.metric,
        ...band(r.s),
        n: r.s.n,
      })),
    },
    encoding: {
      x: { field: "metric", type: "nominal", title: null, axis: { labelAngle: 0 } },
      xOffset: { field: "model", type: "nominal", sort: order },
    },
    layer: [
      {
        mark: "bar",
        encoding: {
          y: {
            field: "mean",
            type: "quantitative",
            title: "mean over seeds",
            scale: { domain: [0, 1] },
          },
          color: { field: "model", type: "nominal", sort: order, title: "model" },
        },
      },
      {
        mark: { type: "rule", color: "black" },
        encoding: { y: { field: "lo", type: "quantitative" }, y2: { field: "hi" } },
      },
    ],
  } as TopLevelSpec;
}

/** Lines of F1 and AUC against a parameter, with ±std error bars. */
export function sensitivityLines(
  rows: { x: number; metric: string; s: Summary }[],
  xTitle: string,
  title: string,
): TopLevelSpec {
  return {
    $schema: SCHEMA,
    title,
    width: 300,
    height: 220,
    data: {
      values: rows.map((r) => ({
        x: r.x,
        metric: r.metric,
        ...band(r.s),
      })),
    },
    encoding: {
      x: { field: "x", type: "quantitative", title: xTitle },
      color: { field: "metric", type: "nominal", title: "metric" },
    },
    layer: [
      {
        mark: { type: "line", point: true },
        encoding: {
          y: {
            field: "mean",
            type: "quantitative",
            title: "mean over seeds",
            scale: { zero: false },
          },
        },
      },
      {
        mark: { type: "rule" },
        encoding: { y: { field: "lo", type: "quantitative" }, y2: { field: "hi" } },
      },
    ],
  } as TopLevelSpec;
}

/** Loss curves (mean and ±std band over seeds) per epoch, one panel per RecSimu variant. */
export function lossCurves(
  rows: { label: string; x: number; series: string; s: Summary }[],
): TopLevelSpec {
  return {
    $schema: SCHEMA,
    title: "RecSimu training losses of G and D per epoch (mean ± std over seeds)",
    data: {
      values: rows.map((r) => ({
        variant: r.label,
        epoch: r.x,
        loss: r.series,
        ...band(r.s),
      })),
    },
    facet: { row: { field: "variant", type: "nominal", title: null } },
    resolve: { scale: { y: "independent" } },
    spec: {
      width: 420,
      height: 160,
      encoding: {
        x: {
          field: "epoch",
          type: "quantitative",
          title: "epoch (pre-training G, pre-training D, adversarial)",
          axis: { tickMinStep: 1 },
        },
        color: { field: "loss", type: "nominal", title: "loss" },
      },
      layer: [
        {
          mark: { type: "area", opacity: 0.2 },
          encoding: { y: { field: "lo", type: "quantitative" }, y2: { field: "hi" } },
        },
        {
          mark: { type: "line", point: true },
          encoding: {
            y: { field: "mean", type: "quantitative", title: "loss", scale: { zero: false } },
          },
        },
      ],
    },
  } as TopLevelSpec;
}
