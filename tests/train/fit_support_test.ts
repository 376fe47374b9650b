import { assert, assertAlmostEquals, assertEquals, assertThrows } from "../_assert.ts";
import { datasetFromText } from "../../lib/data/dataset.ts";
import { CheckpointError } from "../../lib/errors.ts";
import { fitSupportModel } from "../../lib/train/fit_support.ts";
import { fitLogistic } from "../../lib/train/newton_logistic.ts";
import {
  checkSupportModel,
  supportContext,
  supportFeatureNames,
  supportFeatures,
  supportLogit,
} from "../../lib/train/support_features.ts";
import { SupportModel } from "../../lib/sim/support.ts";

const LABELS = ["neg", "pos"];

Deno.test("supportFeatures: hand-computed counts, cosines per label, the newest three and the length", () => {
  // Items 0 = (1, 0), 1 = (0, 2) → unit (0, 1), 2 = (3, 4) → (0.6, 0.8); counts 7, 1, 0.
  const c = supportContext(Float32Array.of(1, 0, 0, 2, 3, 4), 2, [7, 1, 0], 2, 4);
  const names = supportFeatureNames(LABELS);
  const x = supportFeatures(new Float64Array(names.length), {
    items: [0, 1, -1], // the third state item is not in the vocabulary: cosine 0
    feedback: [1, 0, 1],
    candidate: 2,
  }, c);
  const f = Object.fromEntries(names.map((n, i) => [n, x[i]]));
  assertEquals(f.bias, 1);
  assertEquals(f.log_count, 0); // never a training action
  assertEquals(f.in_state, 0);
  assertAlmostEquals(f.cos_mean!, (0.6 + 0.8 + 0) / 3, 1e-6);
  assertAlmostEquals(f.cos_max!, 0.8, 1e-6);
  assertAlmostEquals(f.cos_neg!, 0.8 / 2, 1e-6); // one neg item: Σ / (1 + 1)
  assertAlmostEquals(f.cos_pos!, (0.6 + 0) / 3, 1e-6); // two pos items: Σ / (2 + 1)
  assertEquals(f.cos_last1, 0);
  assertAlmostEquals(f.cos_last2!, 0.8, 1e-6);
  assertAlmostEquals(f.cos_last3!, 0.6, 1e-6);
  assertEquals(f.state_length, 3 / 4);
  // The most frequent item: log count 1, its square 1; an unknown candidate: every cosine 0.
  const top = supportFeatures(new Float64Array(names.length), {
    items: [0],
    feedback: [0],
    candidate: 0,
  }, c);
  assertEquals([top[1], top[2], top[3]], [1, 1, 1]);
  const unknown = supportFeatures(new Float64Array(names.length), {
    items: [0, 1],
    feedback: [0, 1],
    candidate: -1,
  }, c);
  assertEquals([...unknown.slice(1)], [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0.5]);
  assertEquals(supportLogit([1, 2, 3], [1, 0.5, -1]), -1);
});

Deno.test("fitLogistic: weighted rows fit their groups' log-odds (no penalty)", () => {
  const fit = fitLogistic(
    {
      x: [Float64Array.of(1, 0), Float64Array.of(1, 1)],
      rows: [4, 4],
      positives: [1, 3],
    },
    2,
    0,
  );
  assertAlmostEquals(fit.w[0]!, Math.log(1 / 3), 1e-6);
  assertAlmostEquals(fit.w[1]!, Math.log(3) - Math.log(1 / 3), 1e-6);
});

/** A log whose logging policy shows mostly the items 0–4 (of 40), after one another. */
function confoundedLog(): string {
  const lines = ["session_id,item_id,feedback"];
  let s = 7;
  const next = () => (s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  for (let u = 0; u < 80; u++) {
    for (let t = 0; t < 12; t++) {
      const item = next() < 0.8 ? Math.floor(next() * 5) : Math.floor(next() * 40);
      lines.push(`u${u},i${item},${next() < 0.3 ? "pos" : "neg"}`);
    }
  }
  // Every item appears once at least, so all 40 are in the vocabulary.
  for (let i = 0; i < 40; i++) lines.push(`z,i${i},neg`);
  return lines.join("\n") + "\n";
}

Deno.test("fitSupportModel learns where the logging policy went, held out, seeded, with its threshold", async () => {
  const ds = await datasetFromText(confoundedLog(), "log.csv", {
    stateLength: 4,
    minCount: 1,
    minStateLength: 1,
  });
  const vectors = new Float32Array(ds.items.length * 2).fill(1);
  const m = fitSupportModel(ds, { vectors, dim: 2 }, { seed: 3 });
  assertEquals(m.features, supportFeatureNames(ds.labels));
  assertEquals(m.item_counts.length, ds.items.length);
  assertEquals(m.item_counts.reduce((a, b) => a + b, 0), ds.train.length);
  assertEquals(m.train.rows, 2 * ds.train.length);
  const h = m.heldout!;
  assertEquals(h.tuples, ds.validation.length);
  assert(h.auc! > 0.75, `logged vs uniform AUC ${h.auc}`);
  assert(h.mean_logged > 0 && h.mean_uniform < 0, JSON.stringify(h));
  // The threshold is the 5% quantile of the logged held-out logits.
  assert(h.logged_flagged <= 0.06 && h.logged_flagged >= 0.03, `${h.logged_flagged}`);
  assert(h.uniform_flagged > 3 * h.logged_flagged, JSON.stringify(h));
  // Popular items are on support: a positive weight on the log count's square or itself.
  const lc = m.weights[1]! + m.weights[2]!;
  assert(lc > 0, `log count weights ${m.weights.slice(1, 3)}`);
  assertEquals(fitSupportModel(ds, { vectors, dim: 2 }, { seed: 3 }), m);
  assertThrows(() => fitSupportModel(ds, { vectors, dim: 2 }, { l2: -1 }), RangeError, "l2");
  // The simulator's side answers the same logits.
  const sm = SupportModel.fromData(m, { labels: ds.labels, stateLength: 4, vectors, dim: 2 });
  const x = supportFeatures(
    new Float64Array(m.features.length),
    { items: [0], feedback: [0], candidate: 1 },
    supportContext(vectors, 2, m.item_counts, 2, 4),
  );
  assertEquals(sm.logit({ items: [0], feedback: [0], candidate: 1 }), supportLogit(m.weights, x));
});

Deno.test("checkSupportModel names the field of a support.json that does not fit the model", () => {
  const names = supportFeatureNames(LABELS);
  const good = {
    format: 1,
    method: "logistic",
    labels: LABELS,
    state_length: 5,
    features: names,
    weights: names.map(() => 0),
    l2: 1,
    seed: 0,
    item_counts: [1, 2, 3],
    threshold: -1,
    train: { rows: 2, iterations: 1 },
    heldout: null,
  };
  const expect = { labels: LABELS, stateLength: 5, items: 3 };
  assertEquals(checkSupportModel(good, "m/support.json", expect).threshold, -1);
  const bad: [Record<string, unknown>, RegExp][] = [
    [{ format: 2 }, /"m\/support\.json": format must be 1/],
    [{ labels: ["a", "b"] }, /labels must be the model's labels/],
    [{ state_length: 4 }, /state_length must be the model's state length 5/],
    [{ features: ["bias"] }, /features must be/],
    [{ weights: [1] }, /weights must be 12 finite numbers/],
    [{ item_counts: [1, 2] }, /item_counts must be 3 finite numbers/],
    [{ threshold: null }, /threshold must be a finite number/],
  ];
  for (const [change, message] of bad) {
    const e = assertThrows(
      () => checkSupportModel({ ...good, ...change }, "m/support.json", expect),
      CheckpointError,
    );
    assert(message.test(e.message), e.message);
  }
});
