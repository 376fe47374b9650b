/**
 * Readable metric tables for stderr.
 * @module
 */
import type { FeedbackMetrics, RankingMetrics } from "./evaluate.ts";

/** A number to 4 decimals; "-" when it is NaN or infinite, "—" when the scorer lacks it. */
const f = (x: number | undefined) =>
  x === undefined ? "   —   " : !Number.isFinite(x) ? "   -  " : x.toFixed(4);

/** One row of {@link metricsTable}: a scorer's {@link FeedbackMetrics}, or a ranking's AUC only. */
export type MetricsRow = RankingMetrics & Partial<FeedbackMetrics>;

/**
 * A table with one row per scorer (RecSimu and baselines). A metric a scorer does not have
 * (a ranking such as `popularity` has only AUC) shows "—", explained under the table.
 */
export function metricsTable(rows: Record<string, MetricsRow>): string {
  const head = `${"model".padEnd(12)} ${"F1".padStart(7)} ${"AUC".padStart(7)} ${
    "logloss".padStart(7)
  } ${"ll(pos)".padStart(7)} ${"prec".padStart(7)} ${"recall".padStart(7)} ${
    "acc".padStart(7)
  }      n`;
  const lines = Object.entries(rows).map(([name, m]) =>
    `${name.padEnd(12)} ${f(m.f1).padStart(7)} ${f(m.auc).padStart(7)} ${
      f(m.logLoss).padStart(7)
    } ${f(m.posLogLoss).padStart(7)} ${f(m.precision).padStart(7)} ${f(m.recall).padStart(7)} ${
      f(m.accuracy).padStart(7)
    } ${String(m.n).padStart(6)}`
  );
  const partial = Object.entries(rows).filter(([, m]) => m.f1 === undefined).map(([n]) => n);
  const note = partial.length > 0
    ? [`— not defined for ${partial.join(", ")}: a ranking (AUC only), no label or probability`]
    : [];
  return [head, "-".repeat(head.length), ...lines, ...note].join("\n");
}

/** Per-label precision / recall table of one scorer. */
export function perClassTable(m: FeedbackMetrics): string {
  if (!m.perClass) return "";
  const lines = Object.entries(m.perClass).map(([label, s]) =>
    `${label.padEnd(12)} ${f(s.precision).padStart(7)} ${f(s.recall).padStart(7)} ${
      f(s.f1).padStart(7)
    } ${String(s.support).padStart(7)}`
  );
  return [
    `${"label".padEnd(12)} ${"prec".padStart(7)} ${"recall".padStart(7)} ${"F1".padStart(7)} ${
      "support".padStart(7)
    }`,
    ...lines,
  ]
    .join("\n");
}
