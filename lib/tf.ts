/**
 * The one place that imports TensorFlow.js and selects the backend.
 *
 * `auto` picks WebGPU only on a real (non-fallback) GPU adapter, else WASM-SIMD, else the
 * plain JavaScript CPU backend. The choice and the reason are logged on stderr.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";
import { UserError } from "./errors.ts";

export { tf };

/** Backends a user can ask for. */
export type BackendName = "auto" | "webgpu" | "wasm" | "cpu";

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

async function trySet(name: "webgpu" | "wasm" | "cpu"): Promise<boolean> {
  try {
    if (name === "webgpu") await import("@tensorflow/tfjs-backend-webgpu");
    return await tf.setBackend(name);
  } catch {
    return false;
  }
}

/**
 * Selects and initialises a backend. Safe to call more than once with the same name.
 * @param name the backend asked for; `auto` chooses as described in the module doc.
 * @param options.quiet do not log the choice on stderr. @default false
 */
export async function initBackend(
  name: BackendName = "auto",
  options: { quiet?: boolean } = {},
): Promise<BackendInfo> {
  if (current && (name === "auto" || name === current.name)) return current;
  // tfjs takes Deno for Node, whose multithreaded WASM build needs a worker script on disk
  // that Deno's worker_threads refuses (ERR_WORKER_PATH): use the single-threaded SIMD build.
  tf.env().set("WASM_HAS_MULTITHREAD_SUPPORT", false);
  let chosen: BackendInfo["name"];
  let reason: string;
  let adapter: string | undefined;
  if (name === "auto") {
    const gpu = await probeGpu();
    adapter = gpu.detail;
    if (gpu.ok && await trySet("webgpu")) {
      chosen = "webgpu";
      reason = `real GPU adapter: ${gpu.detail}`;
    } else if (await trySet("wasm")) {
      chosen = "wasm";
      reason = `WebGPU skipped (${gpu.detail}); WASM available`;
    } else {
      await trySet("cpu");
      chosen = "cpu";
      reason = "WebGPU and WASM unavailable";
    }
  } else {
    if (name === "webgpu") {
      const gpu = await probeGpu();
      adapter = gpu.detail;
      if (!gpu.ok) throw new UserError(`--backend webgpu: ${gpu.detail}`);
    }
    if (!await trySet(name)) throw new Error(`cannot initialise the ${name} backend`);
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
  };
  if (!options.quiet) console.error(`backend: ${chosen} (${reason})`);
  return current;
}
