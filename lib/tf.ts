/**
 * The one place that imports TensorFlow.js and selects the backend.
 *
 * `auto` picks WebGPU only on a real (non-fallback) GPU adapter, else WASM-SIMD, else the
 * plain JavaScript CPU backend. The choice and the reason are logged on stderr.
 * @module
 */
import * as tf from "npm:@tensorflow/tfjs@4.22.0";
import * as tfWasm from "npm:@tensorflow/tfjs-backend-wasm@4.22.0";
import { unrefWasmWorkers, withWasmThreadShims } from "./wasm_threads.ts";
import { quoteForMessage, UserError } from "./errors.ts";

export { tf };

/** Backends a user can ask for (`--backend`), `auto` first. */
export const BACKENDS = ["auto", "webgpu", "wasm", "cpu"] as const;

/**
 * Backends a user can ask for.
 *
 * @example
 * ```ts
 * import { type BackendName, initBackend } from "@recsimu/recsimu";
 *
 * const backend: BackendName = "cpu"; // or "auto" (WebGPU, else WASM, else CPU), "webgpu", "wasm"
 * (await initBackend(backend, { quiet: true })).name; // "cpu"
 * ```
 */
export type BackendName = typeof BACKENDS[number];

/**
 * The `--backend` flag's value: `auto` when absent, else one of {@link BACKENDS}; anything else
 * is a {@link UserError} that lists them.
 *
 * @example
 * ```ts
 * import { parseBackend } from "./tf.ts";
 * parseBackend(undefined); // "auto"
 * parseBackend("wasm"); // "wasm"
 * ```
 */
export function parseBackend(value: string | boolean | undefined): BackendName {
  if (value === undefined) return "auto";
  const known: readonly string[] = BACKENDS;
  if (typeof value === "string" && known.includes(value)) return value as BackendName;
  throw new UserError(
    `--backend: expected ${BACKENDS.slice(0, -1).join(", ")} or ${BACKENDS.at(-1)}, got ${
      quoteForMessage(String(value))
    }`,
  );
}

/** What {@link initBackend} chose and why. */
export interface BackendInfo {
  /** The backend in use: `webgpu`, `wasm` or `cpu`. */
  name: "webgpu" | "wasm" | "cpu";
  /** Why it was chosen. */
  reason: string;
  /** GPU adapter description, when WebGPU was considered. */
  adapter?: string;
  /** tfjs version. */
  tfjs: string;
  /** Deno version. */
  deno: string;
  /** WASM threads in use (1 for other backends). */
  threads: number;
}

let current: BackendInfo | undefined;

/** The backend selected by the last {@link initBackend} call, if any. */
export function backendInfo(): BackendInfo | undefined {
  return current;
}

interface GpuAdapterLike {
  isFallbackAdapter?: boolean;
  info?: {
    isFallbackAdapter?: boolean;
    vendor?: string;
    architecture?: string;
    device?: string;
    description?: string;
  };
}

/** Looks for a real (hardware) WebGPU adapter; returns its description or why there is none. */
export async function probeGpu(): Promise<{ ok: boolean; detail: string }> {
  const gpu =
    (navigator as unknown as { gpu?: { requestAdapter(): Promise<GpuAdapterLike | null> } })
      .gpu;
  if (!gpu) return { ok: false, detail: "navigator.gpu is not available" };
  let adapter: GpuAdapterLike | null = null;
  try {
    adapter = await gpu.requestAdapter();
  } catch (e) {
    return { ok: false, detail: `requestAdapter failed: ${(e as Error).message}` };
  }
  if (!adapter) return { ok: false, detail: "no WebGPU adapter" };
  const info = adapter.info ?? {};
  const desc = [info.vendor, info.architecture, info.device, info.description].filter(Boolean)
    .join(" ") || "unknown adapter";
  const fallback = adapter.isFallbackAdapter ?? info.isFallbackAdapter ?? false;
  if (fallback || /llvmpipe|swiftshader|software/i.test(desc)) {
    return { ok: false, detail: `only a software fallback adapter (${desc})` };
  }
  return { ok: true, detail: desc };
}

/**
 * Threads for the WASM backend: `RECSIMU_THREADS`, else 1. More threads speed up the matrix
 * products on an otherwise idle machine, but XNNPACK's pool degrades badly when other processes
 * hold the cores (measured: 2–5× slower), so using them is a deliberate choice.
 */
export function defaultThreads(): number {
  const env = Deno.env.get("RECSIMU_THREADS");
  const n = env === undefined ? 1 : Number(env);
  if (!Number.isInteger(n) || n < 1) {
    throw new UserError(`RECSIMU_THREADS: expected a positive integer, got "${env}"`);
  }
  return n;
}

async function trySet(name: "webgpu" | "wasm" | "cpu", threads: number): Promise<boolean> {
  try {
    if (name === "webgpu") await import("npm:@tensorflow/tfjs-backend-webgpu@4.22.0");
    if (name === "wasm") {
      tf.env().set("WASM_HAS_MULTITHREAD_SUPPORT", threads > 1);
      if (threads > 1) {
        tfWasm.setThreadsCount(threads);
        const ok = await withWasmThreadShims(() => tf.setBackend("wasm"));
        if (ok) unrefWasmWorkers(tf.backend());
        return ok;
      }
    }
    return await tf.setBackend(name);
  } catch {
    return false;
  }
}

/**
 * Selects and initialises a backend. Safe to call more than once with the same name.
 * @param name the backend asked for; `auto` chooses as described in the module doc.
 * @param options.quiet do not log the choice on stderr. @default false
 * @param options.threads WASM threads. @default defaultThreads()
 *
 * @example
 * ```ts
 * import { initBackend } from "@recsimu/recsimu";
 *
 * const info = await initBackend("cpu", { quiet: true });
 * info.name; // "cpu"
 * info.reason; // "asked for"
 * ```
 */
export async function initBackend(
  name: BackendName = "auto",
  options: { quiet?: boolean; threads?: number } = {},
): Promise<BackendInfo> {
  if (current && (name === "auto" || name === current.name)) return current;
  const threads = options.threads ?? defaultThreads();
  let chosen: BackendInfo["name"];
  let reason: string;
  let adapter: string | undefined;
  if (name === "auto") {
    const gpu = await probeGpu();
    adapter = gpu.detail;
    if (gpu.ok && await trySet("webgpu", threads)) {
      chosen = "webgpu";
      reason = `real GPU adapter: ${gpu.detail}`;
    } else if (await trySet("wasm", threads)) {
      chosen = "wasm";
      reason = `WebGPU skipped (${gpu.detail}); WASM available`;
    } else {
      await trySet("cpu", threads);
      chosen = "cpu";
      reason = "WebGPU and WASM unavailable";
    }
  } else {
    if (name === "webgpu") {
      const gpu = await probeGpu();
      adapter = gpu.detail;
      if (!gpu.ok) throw new UserError(`--backend webgpu: ${gpu.detail}`);
    }
    if (!await trySet(name, threads)) throw new Error(`cannot initialise the ${name} backend`);
    chosen = name;
    reason = "asked for";
  }
  // The CPU backend prints a "use tfjs-node" hint on first use under Node; Deno is not Node.
  if (chosen === "cpu") tf.env().set("IS_NODE", false);
  current = {
    name: chosen,
    reason,
    adapter,
    tfjs: tf.version.tfjs,
    deno: Deno.version.deno,
    threads: chosen === "wasm" ? tfWasm.getThreadsCount() : 1,
  };
  if (!options.quiet) {
    console.error(
      `backend: ${chosen}${chosen === "wasm" ? ` ×${current.threads} threads` : ""} (${reason})`,
    );
  }
  return current;
}
