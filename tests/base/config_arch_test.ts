import { assertEquals, assertThrows } from "../_assert.ts";
import {
  ARCH_DEFAULTS,
  TRAIN_DEFAULTS,
  validateConfig,
  withArchDefaults,
} from "../../lib/config.ts";
import { configFromFlags } from "../../lib/commands/train.ts";
import { UserError } from "../../lib/errors.ts";

Deno.test("--arch picks its own defaults; explicit flags still win", () => {
  const attn = configFromFlags({});
  assertEquals(attn.arch, "attn");
  assertEquals(
    [attn.heads, attn.rareMask, attn.i2vEpochs, attn.i2vLearningRate],
    [4, 0.02, 5, 0.05],
  );
  const paper = configFromFlags({ arch: "paper" });
  assertEquals(
    [paper.heads, paper.rareMask, paper.i2vEpochs, paper.i2vLearningRate],
    [1, 0, 1, 0.01],
  );
  assertEquals(configFromFlags({ arch: "paper", "i2v-epochs": "3" }).i2vEpochs, 3);
  assertEquals(configFromFlags({ heads: "2" }).heads, 2);
  assertThrows(() => configFromFlags({ arch: "paper", heads: "3" }), UserError, "one head");
  assertThrows(() => configFromFlags({ arch: "transformer" }), UserError, "arch must be");
});

Deno.test("a config written before --arch reads as the paper's networks", () => {
  const { arch: _a, heads: _h, rareMask: _r, i2vLearningRate: _l, ...old } = TRAIN_DEFAULTS;
  const c = withArchDefaults({ ...old, i2vEpochs: 1 } as never);
  assertEquals(c.arch, "paper");
  assertEquals([c.heads, c.rareMask, c.i2vLearningRate], [
    1,
    0,
    ARCH_DEFAULTS.paper.i2vLearningRate,
  ]);
  validateConfig(c);
  // A current config is left as it is.
  assertEquals(withArchDefaults({ ...TRAIN_DEFAULTS }), { ...TRAIN_DEFAULTS });
});

Deno.test("--match-features: 0 or 1, attn only; a config written before it has none", () => {
  assertEquals(configFromFlags({}).matchFeatures, TRAIN_DEFAULTS.matchFeatures);
  assertEquals(configFromFlags({ "match-features": "1" }).matchFeatures, true);
  assertEquals(configFromFlags({ "match-features": "0" }).matchFeatures, false);
  assertThrows(() => configFromFlags({ "match-features": "2" }), UserError, "--match-features");
  assertThrows(
    () => configFromFlags({ arch: "paper", "match-features": "1" }),
    UserError,
    "only with --arch attn",
  );
  const { matchFeatures: _m, ...old } = TRAIN_DEFAULTS;
  assertEquals(withArchDefaults(old as never).matchFeatures, false);
});

Deno.test("--wide: 0 or 1, only with match features; off where they are off; old configs have none", () => {
  assertEquals(configFromFlags({}).wide, TRAIN_DEFAULTS.wide);
  assertEquals(configFromFlags({ wide: "1" }).wide, true);
  assertEquals(configFromFlags({ wide: "0" }).wide, false);
  assertEquals(configFromFlags({ "match-features": "0" }).wide, false);
  assertEquals(configFromFlags({ arch: "paper" }).wide, false);
  assertThrows(() => configFromFlags({ wide: "2" }), UserError, "--wide");
  assertThrows(
    () => configFromFlags({ "match-features": "0", wide: "1" }),
    UserError,
    "--wide 1: needs the match features",
  );
  assertThrows(() => configFromFlags({ arch: "paper", wide: "1" }), UserError, "--wide 1");
  const { wide: _w, ...old } = TRAIN_DEFAULTS;
  assertEquals(withArchDefaults(old as never).wide, false);
});
