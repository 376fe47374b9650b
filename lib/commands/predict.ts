/**
 * `recsimu predict --model DIR < in.jsonl > out.jsonl`: each input line is a JSON object with
 * `state` (list of {item, feedback}, oldest first) and `action` (item id); other fields are
 * copied through. Output adds `probs` (label → probability over the K real classes) and `real`
 * (D's probability that the pair is real).
 *
 * Output line k always answers input line k, blank lines included: a line that cannot be scored
 * (blank, not UTF-8, not JSON, longer than `--max-line-bytes`, a reserved field, an unknown item
 * or label) is answered with `{"line": k, "error": "line k: ..."}` plus the input's top-level
 * scalar fields (strings clipped to 80 characters; lists and objects are not echoed). The field
 * names `probs`, `real`, `spread`, `ood`, `error` and `line` are reserved for the output, so an
 * input line that carries one of them is answered with an error naming it. The default model
 * answers unknown items too (as the shared rare item), with `ood` saying so.
 *
 * Input is streamed: lines are split in linear time, a too-long line is skipped without being
 * held, and pending answers are written as soon as the next read would wait for more input, so
 * an interactive client gets each answer without closing stdin. Scorable lines that arrive
 * together are scored in batches of up to `--batch`.
 * @module
 */
import {
  numFlag,
  parseFlags,
  REAL_SCORE_HELP,
  realScoreFlag,
  requireFlag,
  USER_MODEL_HELP,
  userModelFlag,
} from "./_flags.ts";
import { BACKENDS, initBackend, parseBackend } from "../tf.ts";
import { assertCheckpointDir } from "../train/checkpoint.ts";
import { Simulator } from "../sim/simulator.ts";
import type { FeedbackPrediction, FeedbackRequest } from "../sim/types.ts";

const USAGE = `Usage: recsimu predict --model DIR [flags] < in.jsonl > out.jsonl

Input line:  {"id": 1, "state": [{"item": "m1", "feedback": "pos"}, ...], "action": "m50"}
Output line: {"id": 1, "state": [...], "action": "m50", "probs": {"neg": 0.3, "pos": 0.7}, "real": 0.8}

Output line k answers input line k, always (blank lines included). A line that cannot be scored
is answered with {"line": k, "error": "line k: ..."} plus its top-level scalar fields (strings
clipped to 80 characters). Input fields named probs, real, error or line are reserved for the
output: a line carrying one is answered with an error naming it.

Flags:
  --model DIR            trained simulator checkpoint (required)
  --batch N              score up to N lines per model call (default 4096)
  --max-line-bytes N     longest accepted input line in bytes, newline excluded (default 1048576);
                         a longer line is skipped and answered with an error
${USER_MODEL_HELP}
${REAL_SCORE_HELP}
  --backend B            ${BACKENDS.join(" | ")} (default auto)`;

/** Output field names; an input line may not carry them (the output would be ambiguous). */
export const RESERVED_FIELDS: readonly string[] = [
  "probs",
  "real",
  "spread",
  "ood",
  "error",
  "line",
];

/** Longest echoed value (ids, item names, labels) in error lines and messages. */
const CLIP = 80;
/** Bytes asked of stdin per read. */
const READ_BYTES = 1 << 20;
/** Pending scorable input bytes that trigger a flush before `--batch` lines are reached. */
const MAX_PENDING_BYTES = 16 << 20;
/** Largest `--max-line-bytes`: V8 strings stop at ~512 MiB and JSON.parse needs room besides. */
const MAX_LINE_LIMIT = 256 << 20;

/**
 * Clips `s` to at most `max` characters, ending a clipped string with "…".
 *
 * @example
 * ```ts
 * import { clip } from "./predict.ts";
 * clip("abcdef", 4); // "abc…"
 * ```
 */
export function clip(s: string, max: number = CLIP): string {
  if (s.length <= max) return s;
  let cut = max - 1;
  // Do not split a surrogate pair.
  const c = s.charCodeAt(cut - 1);
  if (c >= 0xd800 && c <= 0xdbff) cut--;
  return s.slice(0, cut) + "…";
}

/** One input line as {@link LineSplitter} yields it. */
export type RawLine =
  /** The line's bytes without its newline; valid only until the next chunk is read. */
  | { bytes: Uint8Array; tooLong?: undefined }
  /** The line was longer than the limit; its bytes were dropped. */
  | { bytes?: undefined; tooLong: true };

/**
 * Splits a byte stream into "\n"-terminated lines in linear time: each chunk is scanned once,
 * and a line longer than `maxBytes` is dropped as it streams past instead of being held.
 *
 * @example
 * ```ts
 * import { LineSplitter } from "./predict.ts";
 * const s = new LineSplitter(3);
 * const lines = [...s.push(new TextEncoder().encode("ab\nabcd\nc")), ...s.end()];
 * lines.map((l) => l.tooLong ? "too long" : new TextDecoder().decode(l.bytes));
 * // ["ab", "too long", "c"]
 * ```
 */
export class LineSplitter {
  /** Longest accepted line in bytes, newline excluded. */
  readonly maxBytes: number;
  #parts: Uint8Array[] = [];
  #length = 0;
  #skipping = false;

  /** @param maxBytes longest accepted line in bytes, newline excluded. */
  constructor(maxBytes: number) {
    this.maxBytes = maxBytes;
  }

  /** Lines completed by `chunk`. Yielded bytes may point into `chunk`; use them before reusing it. */
  *push(chunk: Uint8Array): Generator<RawLine> {
    let start = 0;
    while (start < chunk.length) {
      const nl = chunk.indexOf(10, start);
      const end = nl < 0 ? chunk.length : nl;
      if (!this.#skipping && this.#length + (end - start) > this.maxBytes) {
        this.#skipping = true;
        this.#parts = [];
        this.#length = 0;
      }
      if (nl < 0) {
        // Copy the unfinished line out: the caller reuses the chunk's buffer.
        if (!this.#skipping) this.#keep(chunk.slice(start));
        return;
      }
      yield this.#finish(chunk.subarray(start, end));
      start = nl + 1;
    }
  }

  /** The last line when the input does not end with a newline. */
  *end(): Generator<RawLine> {
    if (this.#skipping || this.#length > 0) yield this.#finish(new Uint8Array(0));
  }

  #keep(part: Uint8Array): void {
    this.#parts.push(part);
    this.#length += part.length;
  }

  #finish(tail: Uint8Array): RawLine {
    if (this.#skipping) {
      this.#skipping = false;
      return { tooLong: true };
    }
    if (this.#parts.length === 0) return { bytes: tail };
    this.#keep(tail);
    const bytes = new Uint8Array(this.#length);
    let off = 0;
    for (const p of this.#parts) {
      bytes.set(p, off);
      off += p.length;
    }
    this.#parts = [];
    this.#length = 0;
    return { bytes };
  }
}

/** Checks one parsed line; returns the request or an error message naming the field. */
export function checkRequest(x: unknown, sim: Simulator): FeedbackRequest | string {
  if (typeof x !== "object" || x === null || Array.isArray(x)) return "expected a JSON object";
  const o = x as Record<string, unknown>;
  const reserved = RESERVED_FIELDS.find((k) => Object.hasOwn(o, k));
  if (reserved !== undefined) {
    return `field "${reserved}" is reserved for the output (${
      RESERVED_FIELDS.join(", ")
    }); rename it`;
  }
  if (typeof o.action !== "string") return "action: expected an item id (string)";
  const known = (id: string) => sim.answersUnknownItems || sim.hasItem(id);
  if (!known(o.action)) return `action: unknown item "${clip(o.action)}"`;
  if (!Array.isArray(o.state)) return "state: expected a list of {item, feedback}";
  const state = [];
  for (let i = 0; i < o.state.length; i++) {
    const p = o.state[i] as Record<string, unknown> | null;
    if (typeof p !== "object" || p === null) return `state[${i}]: expected {item, feedback}`;
    if (typeof p.item !== "string") return `state[${i}].item: expected a string`;
    if (typeof p.feedback !== "string") return `state[${i}].feedback: expected a string`;
    // Only the last N pairs are used; unknown items outside them do not matter.
    if (i >= o.state.length - sim.stateLength) {
      if (!known(p.item)) return `state[${i}].item: unknown item "${clip(p.item)}"`;
      if (sim.labelIndex(p.feedback) === undefined) {
        return `state[${i}].feedback: unknown label "${clip(p.feedback)}" (expected one of ${
          sim.labels.join(", ")
        })`;
      }
    }
    state.push({ item: p.item, feedback: p.feedback });
  }
  return { state, action: o.action };
}

/**
 * What an error line copies from its input: top-level scalar fields, strings clipped, reserved
 * names, long names, lists and objects left out (so an error line stays small).
 */
function echo(x: unknown): Record<string, unknown> {
  const e: Record<string, unknown> = {};
  if (typeof x !== "object" || x === null || Array.isArray(x)) return e;
  for (const [k, v] of Object.entries(x)) {
    if (RESERVED_FIELDS.includes(k) || k.length > CLIP) continue;
    if (typeof v === "string") e[k] = clip(v);
    else if (v === null || typeof v === "number" || typeof v === "boolean") e[k] = v;
  }
  return e;
}

const UTF8 = new TextDecoder("utf-8", { fatal: true });

/** One line checked: the request to score, or why not (with the parsed input, for the echo). */
function parseLine(
  raw: RawLine,
  sim: Simulator,
  maxLineBytes: number,
): { obj: Record<string, unknown>; req: FeedbackRequest } | { error: string; input?: unknown } {
  if (raw.tooLong) {
    return { error: `longer than the --max-line-bytes limit of ${maxLineBytes} bytes; skipped` };
  }
  let text: string;
  try {
    text = UTF8.decode(raw.bytes);
  } catch {
    return { error: "not valid UTF-8" };
  }
  const start = text.search(/\S/);
  if (start < 0) return { error: "blank line" };
  // Only an object can be scored; saying so up front skips JSON.parse's costly throw.
  if (text[start] !== "{") {
    return {
      error: `expected a JSON object, found ${JSON.stringify(clip(text.slice(start), 20))}`,
    };
  }
  let obj: unknown;
  try {
    obj = JSON.parse(text);
  } catch (e) {
    return { error: `not JSON (${clip((e as Error).message, 2 * CLIP)})` };
  }
  const r = checkRequest(obj, sim);
  if (typeof r === "string") return { error: r, input: obj };
  return { obj: obj as Record<string, unknown>, req: r };
}

/** True when `p` settles before a zero-delay timer fires, i.e. the read did not wait. */
async function settlesAtOnce(p: Promise<unknown>): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      p.then(() => true, () => true),
      new Promise<boolean>((resolve) => timer = setTimeout(() => resolve(false), 0)),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** The output line of an answered input object: its fields, then probs, real, spread, support, ood. */
function answerLine(
  obj: Record<string, unknown>,
  r: FeedbackPrediction,
  probsOf: (p: readonly number[] | Record<string, number>) => unknown,
): string {
  const probs = probsOf(r.probs as readonly number[] | Record<string, number>);
  const extra = {
    ...(r.spread !== undefined ? { spread: r.spread } : {}),
    ...(r.support !== undefined ? { support: r.support } : {}),
    ...(r.ood ? { ood: r.ood } : {}),
  };
  const real = r.real !== undefined ? { real: r.real } : {};
  return JSON.stringify({ ...obj, probs, ...real, ...extra }) + "\n";
}

/** Entry point of `recsimu predict`. */
export async function run(argv: string[]): Promise<void> {
  const v = parseFlags("predict", argv, {
    model: { type: "string" },
    batch: { type: "string" },
    "max-line-bytes": { type: "string" },
    backend: { type: "string" },
    "user-model": { type: "string" },
    "real-score": { type: "string" },
  }, USAGE);
  if (!v) return;
  const dir = requireFlag("predict", "model", v.model);
  const batch = numFlag("batch", v.batch, 4096, { integer: true, min: 1 });
  const maxLine = numFlag("max-line-bytes", v["max-line-bytes"], 1 << 20, {
    integer: true,
    min: 1,
    max: MAX_LINE_LIMIT,
  });
  const backend = parseBackend(v.backend);
  const userModel = userModelFlag(v["user-model"]);
  const realScore = realScoreFlag(v["real-score"], userModel);
  await assertCheckpointDir(dir);
  await initBackend(backend, { quiet: true });
  const sim = await Simulator.load(dir, { userModel, realScore });
  // `probs` is a label → probability map, or an array in label order from older simulators.
  const probsOf = (p: readonly number[] | Record<string, number>): Record<string, number> =>
    Array.isArray(p)
      ? Object.fromEntries(sim.labels.map((l, k) => [l, p[k]!]))
      : p as Record<string, number>;
  const enc = new TextEncoder();
  const out = Deno.stdout.writable.getWriter();
  // Answers not yet written, in input order: scorable lines keep their request.
  let pending: { obj: Record<string, unknown>; req?: FeedbackRequest }[] = [];
  let pendingBytes = 0;
  const flush = async () => {
    if (pending.length === 0) return;
    const ok = pending.filter((p) => p.req);
    const preds = ok.length > 0 ? await sim.predict(ok.map((p) => p.req!)) : [];
    let j = 0;
    let text = "";
    for (const p of pending) {
      if (p.req) {
        text += answerLine(p.obj, preds[j++]!, probsOf);
      } else {
        text += JSON.stringify(p.obj) + "\n";
      }
    }
    pending = [];
    pendingBytes = 0;
    await out.write(enc.encode(text));
  };
  let lineNo = 0;
  const handle = async (raw: RawLine) => {
    const n = ++lineNo;
    const r = parseLine(raw, sim, maxLine);
    if ("error" in r) {
      pending.push({ obj: { ...echo(r.input), line: n, error: `line ${n}: ${r.error}` } });
    } else {
      pending.push({ obj: r.obj, req: r.req });
      pendingBytes += raw.bytes!.length;
    }
    if (pending.length >= batch || pendingBytes >= MAX_PENDING_BYTES) await flush();
  };
  const buf = new Uint8Array(READ_BYTES);
  const lines = new LineSplitter(maxLine);
  let next = Deno.stdin.read(buf);
  while (true) {
    // Answer what is pending as soon as the input would make us wait; while it keeps
    // arriving, keep collecting so that scoring stays batched.
    if (pending.length > 0 && !await settlesAtOnce(next)) await flush();
    const got = await next;
    if (got === null) break;
    for (const raw of lines.push(buf.subarray(0, got))) await handle(raw);
    next = Deno.stdin.read(buf);
  }
  for (const raw of lines.end()) await handle(raw);
  await flush();
  await out.close();
  sim.dispose();
}
