/**
 * `--split users`: whole sessions held out by a seeded hash of their ids, deterministic,
 * disjoint, covering every tuple, each held-out session contributing all of its tuples.
 * @module
 */
import { createHash } from "node:crypto";
import { assert, assertEquals, assertThrows } from "../_assert.ts";
import {
  type Dataset,
  datasetFromText,
  type DatasetOptions,
  datasetOptions,
  sessionRole,
  USERS_VALIDATION_SHARE,
} from "../../lib/data/dataset.ts";
import { TRAIN_DEFAULTS, validateConfig } from "../../lib/config.ts";
import { UserError } from "../../lib/errors.ts";
import { synthText } from "../_helpers.ts";

const TEXT = synthText({ sessions: 120, items: 25, minLength: 3, maxLength: 12 });
const USERS: DatasetOptions = {
  stateLength: 4,
  minStateLength: 1,
  minCount: 1,
  split: "users",
  holdout: 0.25,
  seed: 3,
};

/** The session index of each tuple row of `rows`. */
function sessionsOf(ds: Dataset, rows: Int32Array): Set<number> {
  const start = new Map(Array.from(ds.sessionOffsets.subarray(0, -1), (o, j) => [o, j]));
  return new Set(Array.from(rows, (r) => start.get(ds.rowSessionStart[r]!)!));
}

Deno.test("split users is deterministic: the same seed gives the same tuples, another seed others", async () => {
  const a = await datasetFromText(TEXT, "log.csv", USERS);
  const b = await datasetFromText(TEXT, "log.csv", USERS);
  assertEquals([...a.test], [...b.test]);
  assertEquals([...a.validation], [...b.validation]);
  assertEquals([...a.train], [...b.train]);
  const c = await datasetFromText(TEXT, "log.csv", { ...USERS, seed: 4 });
  assert([...c.test].join() !== [...a.test].join(), "seed 4 holds out the same tuples as seed 3");
});

Deno.test("split users is disjoint, covers every tuple, and holds out all of a test session's tuples", async () => {
  const users = await datasetFromText(TEXT, "log.csv", USERS);
  const last = await datasetFromText(TEXT, "log.csv", { ...USERS, split: "last" });
  const all = (d: Dataset) => [...d.train, ...d.validation, ...d.test].sort((x, y) => x - y);
  assertEquals(all(users), all(last)); // the same tuples, split otherwise
  assertEquals(new Set(all(users)).size, all(users).length); // no tuple in two sets
  const test = sessionsOf(users, users.test);
  const val = sessionsOf(users, users.validation);
  const train = sessionsOf(users, users.train);
  for (const j of test) assert(!val.has(j) && !train.has(j), `session ${j} is split`);
  for (const j of val) assert(!train.has(j), `session ${j} is split`);
  // Every tuple of a test session: rows from its start + max(minState, 1) to its end.
  let expected = 0;
  for (const j of test) expected += users.sessionOffsets[j + 1]! - users.sessionOffsets[j]! - 1;
  assertEquals(users.test.length, expected);
  assertEquals(users.stats.testSessions, test.size);
  // The share is the hash's: 120 sessions at 0.25 (a binomial's 3 sd is ±0.12).
  assert(test.size / 120 > 0.13 && test.size / 120 < 0.37, `${test.size} of 120 held out`);
  for (const [j, id] of users.sessionIds.entries()) {
    const role = sessionRole(id, 3, 0.25);
    const where = test.has(j) ? "test" : val.has(j) ? "validation" : "train";
    assertEquals(where, role, id);
  }
});

Deno.test("split users counts the held-out tuples whose state is shorter than N", async () => {
  const ds = await datasetFromText(TEXT, "log.csv", USERS);
  const short = [...ds.test].filter((r) => r - ds.rowSessionStart[r]! < 4).length;
  assert(short > 0);
  assertEquals(ds.stats.shortStateTestTuples, short);
  const full = await datasetFromText(TEXT, "log.csv", { ...USERS, minStateLength: 4 });
  assertEquals(full.stats.shortStateTestTuples, 0);
  assertEquals(full.stats.split, "users");
});

Deno.test("sessionRole() is the documented hash of seed and id, whatever else the log holds", async () => {
  for (const id of ["u1", "42", "élodie"]) {
    const h = createHash("sha256").update(`recsimu-split-users:7:${id}`).digest();
    const u = h.readUInt32BE(0) / 2 ** 32;
    const want = u < 0.2 ? "test" : u < 0.2 + USERS_VALIDATION_SHARE ? "validation" : "train";
    assertEquals(sessionRole(id, 7, 0.2), want, id);
  }
  // Dropping half of the sessions leaves the roles of the others as they were.
  const lines = TEXT.trimEnd().split("\n");
  const kept = [lines[0], ...lines.slice(1).filter((l) => Number(/\d+/.exec(l)![0]) % 2 === 0)];
  const half = await datasetFromText(kept.join("\n") + "\n", "half.csv", USERS);
  const whole = await datasetFromText(TEXT, "log.csv", USERS);
  const heldOut = (d: Dataset) => [...sessionsOf(d, d.test)].map((j) => d.sessionIds[j]!);
  const halfIds = new Set(half.sessionIds);
  assertEquals(heldOut(half).sort(), heldOut(whole).filter((id) => halfIds.has(id)).sort());
});

Deno.test("split users: a holdout that leaves no training sessions is refused, naming it", async () => {
  let err: unknown;
  await datasetFromText(TEXT, "log.csv", { ...USERS, holdout: 0.95 }).catch((e) => err = e);
  assert(
    err instanceof RangeError && /holdout must be in \(0, 0\.9\)/.test(err.message),
    String(err),
  );
  assertThrows(() => validateConfig({ ...TRAIN_DEFAULTS, holdout: 0 }), UserError, "holdout");
  assertThrows(
    () => validateConfig({ ...TRAIN_DEFAULTS, split: "sessions" as "users" }),
    UserError,
    "split must be last or users",
  );
});

Deno.test("datasetOptions() carries a config's split, and a config without one means last", () => {
  const users = datasetOptions({ ...TRAIN_DEFAULTS, split: "users", holdout: 0.3, seed: 5 });
  assertEquals([users.split, users.holdout, users.seed], ["users", 0.3, 5]);
  const { split: _s, holdout: _h, ...old } = TRAIN_DEFAULTS; // a checkpoint before --split
  assertEquals(datasetOptions(old).split, "last");
  assertEquals(TRAIN_DEFAULTS.split, "last"); // the paper's protocol stays the default
});
