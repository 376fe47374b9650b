/**
 * `recsimu predict` as a stream: every input line is answered by the output line with the same
 * number, promptly (before stdin closes), with bounded line length and clipped echoes.
 * @module
 */
import { join } from "node:path";
import { assert, assertEquals } from "../_assert.ts";
import { synthText, tempDir } from "../_helpers.ts";
import { MAIN, NO_EPOCHS, ROOT, runRecsimu, TINY_FLAGS } from "../_cli.ts";
import { clip, LineSplitter, type RawLine } from "../../lib/commands/predict.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

/**
 * Trains an untrained-weights tiny model (no epochs) into `dir`; returns its vocabulary. The
 * paper's networks: they refuse unknown items, which these tests use as bad lines (the default
 * model answers them; tests/commands/cli_test.ts checks that).
 */
async function tinyModel(dir: string): Promise<{ model: string; vocab: string[] }> {
  const log = join(dir, "log.csv");
  await Deno.writeTextFile(
    log,
    synthText({ seed: 3, sessions: 40, items: 30, categories: 5, minLength: 6, maxLength: 12 }),
  );
  const model = join(dir, "model");
  const t = await runRecsimu([
    "train",
    "--data",
    log,
    "--out",
    model,
    ...TINY_FLAGS,
    ...NO_EPOCHS,
    "--arch",
    "paper",
  ]);
  assertEquals(t.code, 0, t.stderr);
  const vocab = JSON.parse(await Deno.readTextFile(join(model, "vocab.json"))) as string[];
  return { model, vocab };
}

/**
 * `recsimu predict --model M ...extra` fed `stdin`; returns its parsed output lines. Stdin is
 * written while stdout is read (a large input would otherwise deadlock on full pipes), and the
 * run is killed after 120 s so that a hang fails the test.
 */
async function predict(model: string, stdin: string, extra: string[] = []) {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, "predict", "--model", model, "--backend", "cpu", ...extra],
    cwd: ROOT,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const timer = setTimeout(() => child.kill("SIGKILL"), 120_000);
  const writing = (async () => {
    const w = child.stdin.getWriter();
    await w.write(enc.encode(stdin));
    await w.close();
  })().catch(() => {}); // a child that exits early shows up in the exit code and stderr below
  const [r] = await Promise.all([child.output(), writing]).finally(() => clearTimeout(timer));
  const stdout = dec.decode(r.stdout);
  assertEquals(r.code, 0, dec.decode(r.stderr));
  assert(stdout === "" || stdout.endsWith("\n"), "every output line ends with a newline");
  const lines = stdout === "" ? [] : stdout.slice(0, -1).split("\n");
  return { raw: stdout, out: lines.map((l) => JSON.parse(l) as Record<string, unknown>) };
}

/** A scorable request line with id `id`. */
function good(vocab: string[], id: number, extra: Record<string, unknown> = {}): string {
  return JSON.stringify({
    id,
    state: [{ item: vocab[0], feedback: "skip" }, { item: vocab[1], feedback: "click" }],
    action: vocab[id % vocab.length],
    ...extra,
  });
}

/** Asserts that `o` is a scored answer (probs over the labels summing to 1, real in (0, 1)). */
function assertScored(o: Record<string, unknown>, id: number): void {
  assertEquals(o.id, id, JSON.stringify(o));
  assertEquals(o.error, undefined, JSON.stringify(o));
  const probs = o.probs as Record<string, number>;
  assertEquals(Object.keys(probs), ["skip", "click", "purchase"]);
  assert(Math.abs(Object.values(probs).reduce((a, b) => a + b, 0) - 1) < 1e-5);
  assert(typeof o.real === "number" && o.real > 0 && o.real < 1);
}

/** Asserts that `o` answers input line `n` with an error containing `what`. */
function assertError(o: Record<string, unknown>, n: number, what: string): void {
  assertEquals(o.line, n, JSON.stringify(o));
  assertEquals(o.probs, undefined, JSON.stringify(o));
  assert(typeof o.error === "string" && o.error.startsWith(`line ${n}: `), JSON.stringify(o));
  assert((o.error as string).includes(what), `${o.error} should mention ${what}`);
}

Deno.test("LineSplitter splits across chunks and drops an over-long line without holding it", () => {
  const s = new LineSplitter(4);
  const text = (l: RawLine) => l.tooLong ? "<too long>" : dec.decode(l.bytes);
  const got: string[] = [];
  for (const chunk of ["ab", "c\n\n", "abcd", "\nabc", "de", "fgh\nxy", "z\n", "q"]) {
    for (const l of s.push(enc.encode(chunk))) got.push(text(l));
  }
  for (const l of s.end()) got.push(text(l));
  assertEquals(got, ["abc", "", "abcd", "<too long>", "xyz", "q"]);
  // An over-long last line without a newline is still reported; a final newline adds no line.
  const t = new LineSplitter(2);
  assertEquals([...t.push(enc.encode("ok\nlong")), ...t.end()].map(text), ["ok", "<too long>"]);
  const u = new LineSplitter(2);
  assertEquals([...u.push(enc.encode("a\n")), ...u.end()].map(text), ["a"]);
});

Deno.test("clip() keeps short strings and ends long ones with an ellipsis, never splitting a pair", () => {
  assertEquals(clip("short"), "short");
  assertEquals(clip("x".repeat(81)), "x".repeat(79) + "…");
  assertEquals(clip("x".repeat(80)), "x".repeat(80));
  assertEquals(clip("ab😀cd", 4), "ab…");
});

Deno.test("recsimu predict answers every input line with the output line of the same number", async (t) => {
  await using tmp = await tempDir();
  const { model, vocab } = await tinyModel(tmp.path);

  await t.step("garbage and good lines are answered while stdin stays open", async () => {
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", MAIN, "predict", "--model", model, "--backend", "cpu"],
      cwd: ROOT,
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const stderr = new Response(child.stderr).text();
    const w = child.stdin.getWriter();
    const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let buffered = "";
    let timer: ReturnType<typeof setTimeout> | undefined;
    // Reads `n` output lines; a run that holds them back fails at the deadline instead of hanging.
    const readLines = async (n: number): Promise<Record<string, unknown>[]> => {
      const deadline = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no ${n} output lines within 60 s`)), 60_000);
      });
      try {
        while (buffered.split("\n").length - 1 < n) {
          const r = await Promise.race([reader.read(), deadline]);
          if (r.done) throw new Error(`stdout ended after ${JSON.stringify(buffered)}`);
          buffered += r.value;
        }
      } finally {
        clearTimeout(timer);
      }
      const lines = buffered.split("\n");
      buffered = lines.slice(n).join("\n");
      return lines.slice(0, n).map((l) => JSON.parse(l));
    };
    try {
      await w.write(enc.encode("garbage\n{not json\n"));
      const first = await readLines(2);
      assertError(first[0]!, 1, "expected a JSON object");
      assertError(first[1]!, 2, "not JSON");
      await w.write(enc.encode(good(vocab, 3) + "\n\n"));
      const second = await readLines(2);
      assertScored(second[0]!, 3);
      assertError(second[1]!, 4, "blank line");
      await w.close();
      const status = await child.status;
      assertEquals(status.code, 0, await stderr);
      const rest = await reader.read();
      assert(rest.done && buffered === "", "nothing more after stdin closes");
    } finally {
      try {
        child.kill("SIGKILL");
      } catch { /* already gone */ }
      await stderr.catch(() => {});
      await reader.cancel().catch(() => {});
    }
  });

  await t.step(
    "a line over --max-line-bytes is answered by number without echoing it",
    async () => {
      const head = good(vocab, 1);
      const exact = good(vocab, 4, { pad: "" });
      const atLimit = good(vocab, 4, { pad: "p".repeat(200 - exact.length) });
      assertEquals(enc.encode(atLimit).length, 200);
      const long = JSON.stringify({ id: 2, state: [], action: "z".repeat(500) });
      const input = [head, long, good(vocab, 3), atLimit, atLimit + " "].join("\n") + "\n";
      const { raw, out } = await predict(model, input, ["--max-line-bytes", "200"]);
      assertEquals(out.length, 5);
      assertScored(out[0]!, 1);
      assertError(out[1]!, 2, "--max-line-bytes limit of 200 bytes");
      assert(!raw.includes("zzzz"), "the skipped line's bytes are not echoed");
      assertEquals(out[1]!.id, undefined, "a skipped line is not parsed");
      assertScored(out[2]!, 3);
      assertScored(out[3]!, 4);
      assertError(out[4]!, 5, "limit of 200 bytes");
    },
  );

  await t.step("the default limit is 1 MiB and it is in the usage text", async () => {
    const big = JSON.stringify({ id: 1, state: [], action: "y".repeat(2 << 20) });
    const { raw, out } = await predict(model, big + "\n" + good(vocab, 2) + "\n");
    assertEquals(out.length, 2);
    assertError(out[0]!, 1, "limit of 1048576 bytes");
    assertScored(out[1]!, 2);
    assert(raw.length < 1000, `output is small (${raw.length} bytes)`);
    const help = await runRecsimu(["predict", "--help"]);
    assertEquals(help.code, 0);
    assert(help.stdout.startsWith("Usage: recsimu predict "), help.stdout);
    assert(help.stdout.includes("--max-line-bytes"), help.stdout);
    const bad = await runRecsimu(["predict", "--model", model, "--max-line-bytes", "0"]);
    assertEquals(bad.code, 2);
    assert(bad.stderr.includes("--max-line-bytes: must be at least 1"), bad.stderr);
  });

  await t.step("echoed ids, items and labels are clipped in error lines", async () => {
    const id = "i".repeat(5000);
    const input = [
      JSON.stringify({ id, state: [], action: "a".repeat(5000) }),
      JSON.stringify({
        id: 2,
        state: [{ item: "b".repeat(5000), feedback: "skip" }],
        action: vocab[0],
      }),
      JSON.stringify({
        id: 3,
        state: [{ item: vocab[0], feedback: "c".repeat(5000) }],
        action: vocab[0],
      }),
      "{" + "d".repeat(5000),
      "e".repeat(5000),
    ].join("\n") + "\n";
    const { raw, out } = await predict(model, input);
    assertEquals(out.length, 5);
    assertError(out[0]!, 1, "action: unknown item");
    assertEquals(out[0]!.id, clip(id));
    assertEquals(out[0]!.state, undefined, "lists are not echoed in error lines");
    assertError(out[1]!, 2, "state[0].item: unknown item");
    assertError(out[2]!, 3, "state[0].feedback: unknown label");
    assertError(out[3]!, 4, "not JSON");
    assertError(out[4]!, 5, "expected a JSON object");
    for (const line of raw.trimEnd().split("\n")) {
      assert(line.length < 600, `error line of ${line.length} characters: ${line.slice(0, 200)}`);
    }
  });

  await t.step("blank lines are answered too, so output line k answers input line k", async () => {
    const input = [good(vocab, 1), "", "   ", good(vocab, 4), "\r", "garbage", good(vocab, 7)]
      .join("\n"); // no newline after the last line: it is still a line
    const { out } = await predict(model, input);
    assertEquals(out.length, 7);
    assertScored(out[0]!, 1);
    assertError(out[1]!, 2, "blank line");
    assertError(out[2]!, 3, "blank line");
    assertScored(out[3]!, 4);
    assertError(out[4]!, 5, "blank line");
    assertError(out[5]!, 6, "expected a JSON object");
    assertScored(out[6]!, 7);
    const empty = await predict(model, "");
    assertEquals(empty.out, [], "no input, no output");
  });

  await t.step("input fields probs, real, error and line are reserved", async () => {
    const input = [
      good(vocab, 1, { probs: [0.5] }),
      good(vocab, 2, { real: 1 }),
      good(vocab, 3, { error: "mine" }),
      good(vocab, 4, { line: 99 }),
      good(vocab, 5, { probability: 1, lines: 2 }),
    ].join("\n") + "\n";
    const { out } = await predict(model, input);
    assertEquals(out.length, 5);
    for (const [k, field] of ["probs", "real", "error", "line"].entries()) {
      assertError(out[k]!, k + 1, `field "${field}" is reserved`);
      assertEquals(out[k]!.id, k + 1, "scalar fields are echoed");
      assertEquals(out[k]!.real, undefined);
    }
    assertScored(out[4]!, 5);
    assertEquals([out[4]!.probability, out[4]!.lines], [1, 2], "other fields pass through");
  });

  await t.step("many bad lines mixed with good ones stream through in order", async () => {
    const lines: string[] = [];
    for (let i = 1; i <= 20_000; i++) {
      const kind = i % 5;
      lines.push(
        kind === 0
          ? good(vocab, i)
          : kind === 1
          ? "garbage"
          : kind === 2
          ? ""
          : kind === 3
          ? "x".repeat(300)
          : "{bad",
      );
    }
    const { out } = await predict(model, lines.join("\n") + "\n", [
      "--max-line-bytes",
      "250",
      "--batch",
      "7",
    ]);
    assertEquals(out.length, lines.length);
    out.forEach((o, k) => {
      const n = k + 1;
      const kind = n % 5;
      if (kind === 0) assertScored(o, n);
      else {
        assertError(
          o,
          n,
          ["", "expected a JSON object", "blank line", "limit of 250", "not JSON"][kind]!,
        );
      }
    });
  });
});
