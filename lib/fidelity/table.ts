/**
 * The judge's reports as short tables for stderr: on a truth world, coverage, the prediction
 * metrics by split (the simulator's, the truth's, popularity's and the baselines'), and the policies' simulated vs true returns with the rank correlations; on
 * a real log, coverage, the scorers' metrics, the replay check and the leave model's sessions.
 * @module
 */
import type { FidelityReport } from "./judge.ts";
import type { LabelScores, ResponderScores } from "./prediction.ts";
import type { LogFidelityReport } from "./log_judge.ts";
import type { LengthSummary, SessionFidelity } from "./session_fidelity.ts";

/** A number to `d` decimals, right-aligned in `w`; "-" when it is not finite. */
const num = (x: number | undefined, w = 7, d = 4) =>
  (x === undefined || !Number.isFinite(x) ? "-" : x.toFixed(d)).padStart(w);

/** One line of the prediction table. */
function scoreLine(split: string, who: string, s: Partial<ResponderScores> & { auc: number }) {
  return `${split.padEnd(8)} ${who.padEnd(10)} ${num(s.auc)} ${num(s.log_loss)} ${
    num(s.log_loss_positive)
  } ${num(s.brier)} ${num(s.ece)} ${num(s.ece_vs_truth)} ${num(s.kl_to_truth)}`;
}

/**
 * The table of a {@link FidelityReport}.
 *
 * @example
 * ```ts ignore
 * console.error(fidelityTable(await judgeTruth(sim, "runs/base0")));
 * ```
 */
export function fidelityTable(r: FidelityReport): string {
  const c = r.prediction.coverage;
  const reasons = Object.entries(c.refused_by_reason).filter(([, n]) => n > 0)
    .map(([why, n]) => `${n} ${why.replaceAll("_", " ")}`).join(", ");
  const lines = [
    `cases: ${c.answered} of ${c.cases} answered (${(100 * (1 - c.refused_share)).toFixed(1)}%)${
      reasons ? `; refused: ${reasons}` : ""
    }`,
    `${"split".padEnd(8)} ${"scorer".padEnd(10)} ${"AUC".padStart(7)} ${"logloss".padStart(7)} ${
      "LL(pos)".padStart(7)
    } ${"Brier".padStart(7)} ${"ECE".padStart(7)} ${"ECE/tru".padStart(7)} ${"KL".padStart(7)}`,
  ];
  for (const split of ["overall", "logging", "random"] as const) {
    const s = r.prediction[split];
    lines.push(scoreLine(split, r.responder, s.simulator));
    const truth: Partial<ResponderScores> & LabelScores = s.truth;
    lines.push(scoreLine("", "truth", truth));
    if (s.posterior) lines.push(scoreLine("", "posterior", s.posterior));
    lines.push(scoreLine("", "popularity", s.popularity));
    for (const name of r.config.baselines) {
      const b = s[name];
      if (b) lines.push(scoreLine("", name, b));
    }
  }
  const spreads = (["overall", "logging", "random"] as const)
    .flatMap((split) => {
      const x = r.prediction[split].spread;
      return x
        ? [
          `${split} mean ${num(x.mean, 0)}, Spearman with |error| ${
            num(x.error_spearman, 0, 3)
          } (P(positive)'s own ${num(x.p_error_spearman, 0, 3)}), ` +
          `MAE vs truth ${num(x.mae_top_decile, 0)} (top 10%) / ${num(x.mae_rest, 0)} (rest)`,
        ]
        : [];
    });
  if (spreads.length > 0) lines.push("", "spread of the heads' P(positive):", ...spreads);
  const p = r.policies;
  lines.push(
    "",
    `policies: ${p.start_states} start states x ${p.rollouts} rollouts x ${p.horizon} steps` +
      (p.unanswered_steps > 0 ? `; ${p.unanswered_steps} of ${p.steps} steps unanswered` : ""),
    `${"policy".padEnd(16)} ${"simulated".padStart(9)} ${"true".padStart(9)} ${
      "rel.err".padStart(8)
    }`,
  );
  for (const row of p.rows) {
    lines.push(
      `${row.name.padEnd(16)} ${num(row.simulated.mean, 9, 2)} ${num(row.true.mean, 9, 2)} ${
        num(row.relative_error, 8, 3)
      }`,
    );
  }
  lines.push(
    `Spearman ${num(p.spearman, 0, 3)}, Kendall ${num(p.kendall, 0, 3)}` +
      ` (expected returns: ${num(p.spearman_expected, 0, 3)}, ${num(p.kendall_expected, 0, 3)})`,
    `top in the ${r.responder}: ${p.simulator_top.name} (true ${
      num(p.simulator_top.true, 0, 2)
    }); truly best: ${p.true_best.name} (${num(p.true_best.true, 0, 2)})`,
  );
  const su = r.prediction.overall.support;
  if (su) {
    lines.push(
      `support: mean ${num(su.mean, 0, 3)}, ${
        num(100 * su.off_support_share, 0, 1)
      }% flagged off ` +
        `support (MAE vs truth ${num(su.mae_off_support, 0)} there, ${
          num(su.mae_on_support, 0)
        } elsewhere); tells uniform from logged actions with AUC ${num(su.uniform_auc, 0, 3)}`,
    );
  }
  if (r.agent) lines.push(...agentLines(r.agent, r.responder));
  return lines.join("\n");
}

/** The learned policy's lines: both returns, its ranks and what it shows. */
function agentLines(a: NonNullable<FidelityReport["agent"]>, responder: string): string[] {
  const b = a.behaviour;
  return [
    "",
    `agent trained in the ${responder} (${a.training.episodes} episodes): ${responder} ${
      num(a.simulated.mean, 0, 2)
    }, TRUE ${num(a.true.mean, 0, 2)} (rel.err ${
      num(a.relative_error, 0, 3)
    }); rank ${a.rank.simulated} of ${a.rank.of} in the ${responder}, ${a.rank.true} of ${a.rank.of} in the truth`,
    `  same category as the item before ${num(b.policy.same_category, 0, 3)} (logging ${
      num(b.logging.same_category, 0, 3)
    }), ${b.policy.distinct_items} distinct items (logging ${b.logging.distinct_items}), ` +
    `mean popularity rank ${num(b.policy.mean_popularity_rank, 0, 3)} (logging ${
      num(b.logging.mean_popularity_rank, 0, 3)
    })`,
  ];
}

/**
 * The table of a real-log report ({@link LogFidelityReport}): coverage, each scorer's
 * P(positive) metrics, the replay check, and the learned leave model on the held-out sessions
 * (or why there is none).
 *
 * @example
 * ```ts ignore
 * console.error(logFidelityTable(await judgeLog(sim)));
 * ```
 */
export function logFidelityTable(r: LogFidelityReport): string {
  const c = r.tuples;
  const reasons = Object.entries(c.refused_by_reason).filter(([, n]) => n > 0)
    .map(([why, n]) => `${n} ${why.replaceAll("_", " ")}`).join(", ");
  const lines = [
    `held-out users: ${c.held_out_sessions} sessions, ${c.answered} of ${c.tuples} tuples answered (${
      (100 * (1 - c.refused_share)).toFixed(1)
    }%)${reasons ? `; refused: ${reasons}` : ""}; ${c.short_state} with states < N`,
    `${"scorer".padEnd(10)} ${"n".padStart(7)} ${"AUC".padStart(7)} ${"logloss".padStart(7)} ${
      "ECE".padStart(7)
    } ${"Brier".padStart(7)} ${"AUCshrt".padStart(7)} ${"AUCfull".padStart(7)}`,
  ];
  for (const [name, s] of Object.entries(r.scores)) {
    lines.push(
      `${name.padEnd(10)} ${String(s.n).padStart(7)} ${num(s.positive.auc)} ${
        num(s.positive.log_loss)
      } ${num(s.positive.ece)} ${num(s.positive.brier)} ${num(s.by_state.short.auc)} ${
        num(s.by_state.full.auc)
      }`,
    );
  }
  lines.push(
    "",
    `replay per held-out session: ${"logged".padStart(8)} ${"sim".padStart(8)} ${
      "ratio".padStart(6)
    } ${"corr".padStart(6)} ${"corr/step".padStart(9)}`,
  );
  for (const [name, p] of Object.entries(r.replay)) {
    lines.push(
      `  ${name.padEnd(26)} ${num(p.mean_logged, 8, 2)} ${num(p.mean_simulated, 8, 2)} ${
        num(p.ratio, 6, 3)
      } ${num(p.correlation, 6, 3)} ${num(p.correlation_per_step, 9, 3)}`,
    );
  }
  lines.push("", ...(r.sessions ? sessionLines(r.sessions) : [`sessions: ${r.notes.sessions}`]));
  return lines.join("\n");
}

/** A number or null to `d` decimals, right-aligned in `w`. */
const opt = (x: number | null | undefined, w: number, d: number) => num(x ?? undefined, w, d);

/** The `sessions` section's lines: the leave prediction, then logged vs simulated lengths. */
function sessionLines(s: SessionFidelity): string[] {
  const e = s.leave, u = s.leave_fit.unseen, L = s.lengths;
  const row = (name: string, x: LengthSummary, cut = "") =>
    `  ${name.padEnd(10)} ${String(x.count).padStart(6)} ${opt(x.mean, 7, 1)} ${opt(x.p10, 6, 1)} ${
      opt(x.median, 7, 1)
    } ${opt(x.p90, 6, 1)} ${opt(x.max, 6, 0)} ${cut.padStart(5)}`;
  return [
    `sessions (learned leave model): ${s.held_out_sessions} held-out sessions, ${
      e?.rows ?? 0
    } rows; leave AUC ${opt(e?.auc, 0, 4)}, log-loss ${opt(e?.log_loss, 0, 4)} (base rate's ${
      opt(e?.base_log_loss, 0, 4)
    })`,
    s.leave_fit.seen === null
      ? "  (which held-out sessions the leave fit saw is unknown)"
      : `  ${s.leave_fit.seen} of them in the leave fit; the other ${u?.sessions ?? 0}: AUC ${
        opt(u?.auc, 0, 4)
      }, log-loss ${opt(u?.log_loss, 0, 4)}`,
    `  ${"lengths".padEnd(10)} ${"n".padStart(6)} ${"mean".padStart(7)} ${"p10".padStart(6)} ${
      "median".padStart(7)
    } ${"p90".padStart(6)} ${"max".padStart(6)} ${"cut".padStart(5)}`,
    row("logged", L.logged),
    ...(L.simulated
      ? [
        row("simulated", L.simulated, String(L.simulated.truncated)),
        `  KS distance ${opt(L.ks, 0, 3)} (5% critical ${
          opt(L.ks_critical_05, 0, 3)
        }); replay policy, seed ${L.seed}, cap ${L.max_steps} steps`,
      ]
      : ["  no sessions simulated"]),
  ];
}
