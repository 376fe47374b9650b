/**
 * Runs the Python client (examples/python) against a real server on a free loopback port, with
 * the fake simulator. Skipped, visibly, when python3 is not installed.
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { startServer } from "../../lib/serve/server.ts";
import { FakeSimulator } from "../_fake_sim.ts";

const EXAMPLES = fileURLToPath(new URL("../../examples/python/", import.meta.url));
const TOKEN = "python-test-token-0123456789";

async function hasPython(): Promise<boolean> {
  try {
    return (await new Deno.Command("python3", {
      args: ["--version"],
      stdout: "null",
      stderr: "null",
    }).output())
      .success;
  } catch {
    return false;
  }
}

const PYTHON = await hasPython();
if (!PYTHON) {
  console.warn("python_client_test: python3 not found; the Python client tests are SKIPPED");
}

async function python(args: string[], env: Record<string, string> = {}) {
  const out = await new Deno.Command("python3", {
    args,
    cwd: EXAMPLES,
    env: { PYTHONDONTWRITEBYTECODE: "1", ...env }, // no __pycache__ in the source tree
    stdout: "piped",
    stderr: "piped",
  })
    .output();
  return {
    code: out.code,
    stdout: new TextDecoder().decode(out.stdout),
    stderr: new TextDecoder().decode(out.stderr),
  };
}

Deno.test({
  name: "random_agent.py runs episodes against the server and prints the mean return",
  ignore: !PYTHON,
  fn: async () => {
    const server = startServer(new FakeSimulator({ itemCount: 30 }), { port: 0 });
    try {
      const args = ["random_agent.py", "--url", server.url, "--episodes", "3", "--max-steps", "8"];
      const a = await python(args);
      assert.equal(a.code, 0, a.stderr);
      assert.match(a.stdout, /model: 30 items/);
      assert.equal(
        a.stdout.match(/^episode \d: return [\d.]+ in 8 steps \(step limit\)$/gm)?.length,
        3,
        a.stdout,
      );
      assert.match(a.stdout, /mean return over 3 episodes: \d+\.\d{4}/);
      const b = await python(args);
      assert.equal(b.stdout, a.stdout, "same seed, same episodes");
      const bad = await python([
        "random_agent.py",
        "--url",
        "http://127.0.0.1:1",
        "--episodes",
        "1",
      ]);
      assert.equal(bad.code, 1);
      assert.match(bad.stderr, /random_agent:/);
    } finally {
      await server.shutdown();
    }
  },
});

const CLIENT_CHECKS = `
import sys
from recsimu_env import RecSimuEnv, RecSimuError, step_many
url, token = sys.argv[1], sys.argv[2]

env = RecSimuEnv(url, token=token, max_steps=5)
items = env.items()
assert len(items) == 120 and items[0] == "i0", len(items)
assert list(env.iter_items(page_size=7))[:3] == ["i0", "i1", "i2"]

def episode(seed):
    obs, info = env.reset(seed=seed)
    assert info["seed"] == seed and info["step"] == 0
    out, done = [obs], False
    while not done:
        obs, reward, terminated, truncated, info = env.step(items[len(out) * 3])
        assert obs[-1] == {"item": items[len(out) * 3], "feedback": info["feedback"]}
        assert set(info["probs"]) == {"skip", "click", "purchase"}
        out.append((obs, reward, info["feedback"]))
        done = terminated or truncated
    assert truncated and info["step"] == 5
    return out

assert episode(7) == episode(7), "seeded episodes repeat"
start = [{"item": "i1", "feedback": "click"}]
obs, info = env.reset(options={"state": start})
assert obs == start

f = env.feedback(start, "i2")
assert abs(sum(f["probs"].values()) - 1) < 1e-9 and 0 <= f["real"] <= 1 and "feedback" not in f
s1 = env.feedback(start, "i2", sample=True, seed=3)
assert s1 == env.feedback(start, "i2", sample=True, seed=3)
batch = env.feedback_batch([{"state": start, "action": "i2"}, {"state": [], "action": "i3"}])
assert len(batch) == 2 and batch[0]["probs"] == f["probs"]

try:
    env.step("no-such-item")
    raise AssertionError("expected an error")
except RecSimuError as e:
    assert (e.status, e.code, e.path) == (422, "unknown_item", "action"), e

envs = [RecSimuEnv(url, token=token) for _ in range(3)]
twins = [RecSimuEnv(url, token=token) for _ in range(3)]
for i, (a, b) in enumerate(zip(envs, twins)):
    a.reset(seed=i)
    b.reset(seed=i)
many = RecSimuEnv.step_many(envs, ["i1", "i2", "i3"])
single = [b.step(x) for b, x in zip(twins, ["i1", "i2", "i3"])]
assert many == single, (many, single)
assert step_many(envs, ["i4", "i5", "i6"])[2][4]["step"] == 2

for e in envs + twins + [env]:
    e.close()
    e.close()

try:
    RecSimuEnv(url, token="wrong-token").reset()
    raise AssertionError("expected 401")
except RecSimuError as e:
    assert e.status == 401 and e.code == "unauthorized", e
print("OK")
`;

Deno.test({
  name: "the Python client's reset/step/feedback/step_many/close work and agree with each other",
  ignore: !PYTHON,
  fn: async () => {
    const server = startServer(new FakeSimulator({ itemCount: 120 }), { port: 0, token: TOKEN });
    try {
      const r = await python(["-c", CLIENT_CHECKS, server.url, TOKEN]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout.trim(), "OK");
    } finally {
      await server.shutdown();
    }
  },
});
