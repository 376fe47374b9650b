/**
 * `recsimu predict --model DIR < in.jsonl > out.jsonl`: each input line is a JSON object with
 * `state` (list of {item, feedback}, oldest first) and `action` (item id); other fields are
 * copied through. Output adds `probs` (label → probability over the K real classes) and `real`
 * (D's probability that the pair is real). Bad lines get an `error` field instead.
 * @module
 */
import { numFlag, parseFlags, requireFlag } from "./_flags.ts";
import { type BackendName, initBackend } from "../tf.ts";
import { Simulator } from "../sim/simulator.ts";
import type { FeedbackRequest } from "../sim/types.ts";

const USAGE =
  `Usage: recsimu predict --model DIR [--batch 4096] [--backend B] < in.jsonl > out.jsonl

Input line:  {"id": 1, "state": [{"item": "m1", "feedback": "pos"}, ...], "action": "m50"}
Output line: {"id": 1, "state": [...], "action": "m50", "probs": {"neg": 0.3, "pos": 0.7}, "real": 0.8}
A line that cannot be scored gets {"error": "..."} (with "line": n) instead of probs.`;

/** Checks one parsed line; returns the request or an error message naming the field. */
export function checkRequest(x: unknown, sim: Simulator): FeedbackRequest | string {
  if (typeof x !== "object" || x === null || Array.isArray(x)) return "expected a JSON object";
  const o = x as Record<string, unknown>;
  if (typeof o.action !== "string") return "action: expected an item id (string)";
  if (!sim.hasItem(o.action)) return `action: unknown item "${o.action}"`;
  if (!Array.isArray(o.state)) return "state: expected a list of {item, feedback}";
  const state = [];
  for (let i = 0; i < o.state.length; i++) {
    const p = o.state[i] as Record<string, unknown> | null;
    if (typeof p !== "object" || p === null) return `state[${i}]: expected {item, feedback}`;
    if (typeof p.item !== "string") return `state[${i}].item: expected a string`;
    if (typeof p.feedback !== "string") return `state[${i}].feedback: expected a string`;
    // Only the last N pairs are used; unknown items outside them do not matter.
    if (i >= o.state.length - sim.stateLength) {
      if (!sim.hasItem(p.item)) return `state[${i}].item: unknown item "${p.item}"`;
      if (sim.labelIndex(p.feedback) === undefined) {
        return `state[${i}].feedback: unknown label "${p.feedback}" (expected one of ${
          sim.labels.join(", ")
        })`;
      }
    }
    state.push({ item: p.item, feedback: p.feedback });
  }
  return { state, action: o.action };
}

/** Entry point of `recsimu predict`. */
export async function run(argv: string[]): Promise<void> {
  const v = parseFlags("predict", argv, {
    model: { type: "string" },
    batch: { type: "string" },
    backend: { type: "string" },
  }, USAGE);
  if (!v) return;
  const dir = requireFlag("predict", "model", v.model);
  const batch = numFlag("batch", v.batch, 4096, { integer: true, min: 1 });
  await initBackend((v.backend ?? "auto") as BackendName, { quiet: true });
  const sim = await Simulator.load(dir);
  const enc = new TextEncoder();
  const out = Deno.stdout.writable.getWriter();
  let pending: { obj: Record<string, unknown>; req?: FeedbackRequest; error?: string }[] = [];
  const flush = async () => {
    const ok = pending.filter((p) => p.req);
    const preds = await sim.predict(ok.map((p) => p.req!));
    let j = 0;
    let text = "";
    for (const p of pending) {
      if (p.req) {
        const r = preds[j++]!;
        text += JSON.stringify({
          ...p.obj,
          probs: Object.fromEntries(sim.labels.map((l, k) => [l, r.probs[k]])),
          real: r.real,
        }) + "\n";
      } else {
        text += JSON.stringify({ ...p.obj, error: p.error }) + "\n";
      }
    }
    await out.write(enc.encode(text));
    pending = [];
  };
  let lineNo = 0;
  let buf = "";
  const dec = new TextDecoder();
  const handle = async (line: string) => {
    lineNo++;
    if (line.trim() === "") return;
    let obj: unknown;
    try {
      obj = JSON.parse(line);
    } catch (e) {
      pending.push({
        obj: { line: lineNo },
        error: `line ${lineNo}: not JSON (${(e as Error).message})`,
      });
      return;
    }
    const r = checkRequest(obj, sim);
    const base = typeof obj === "object" && obj !== null && !Array.isArray(obj)
      ? obj as Record<string, unknown>
      : { value: obj };
    if (typeof r === "string") pending.push({ obj: { ...base, line: lineNo }, error: r });
    else pending.push({ obj: base, req: r });
    if (pending.length >= batch) await flush();
  };
  for await (const chunk of Deno.stdin.readable) {
    buf += dec.decode(chunk, { stream: true });
    let nl;
    while ((nl = buf.indexOf("\n")) >= 0) {
      await handle(buf.slice(0, nl));
      buf = buf.slice(nl + 1);
    }
  }
  buf += dec.decode();
  if (buf) await handle(buf);
  await flush();
  await out.close();
  sim.dispose();
}
