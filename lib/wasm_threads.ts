/**
 * Multithreaded WASM under Deno.
 *
 * tfjs-backend-wasm takes Deno for Node and disables its pthreads build; forced on, it hands
 * Emscripten's worker a `blob:` URL that Deno's `node:worker_threads` refuses, and the C++
 * side caps the pool at `os.cpus().length / 2` (1 on a 2-core machine). This module makes the
 * threaded build work for the duration of backend initialisation:
 *  - Blob parts of the two generated scripts (the pthread worker and the threaded factory) are
 *    written to temporary `.cjs` files, whose paths replace the `blob:` URLs; the factory gets
 *    the bundle-level names it closes over (`require$$0` …, `commonjsGlobal`);
 *  - the worker's `Object.assign(global, {location, …})` tolerates getter-only globals;
 *  - `os.cpus()` reports twice the cores while the pool is created, so `--threads` is honoured.
 * Results stay deterministic: XNNPACK splits a product's output among threads, each output
 * element is still summed in one fixed order.
 * @module
 */
import os from "node:os";
import { join } from "node:path";

const FACTORY_PREFIX = "var WasmBackendModuleThreadedSimd";
const PRELUDE = "var require$$0 = require('fs'); var require$$1 = require('path'); " +
  "var require$$3 = require('perf_hooks'); var require$$4 = require('os'); var commonjsGlobal = globalThis;\n";

/**
 * Runs `init` (which must initialise the WASM backend) with the shims in place; restores the
 * globals afterwards. Temporary files are removed when the process exits.
 */
export async function withWasmThreadShims<T>(init: () => Promise<T>): Promise<T> {
  const dir = Deno.makeTempDirSync({ prefix: "recsimu-wasm-" });
  let mainPath = "";
  let n = 0;
  const OrigBlob = globalThis.Blob;
  class RecordingBlob extends OrigBlob {
    readonly parts: readonly BlobPart[];
    constructor(parts: BlobPart[] = [], opts?: BlobPropertyBag) {
      super(parts, opts);
      this.parts = parts;
      if (typeof parts[0] === "string" && parts[0].startsWith(FACTORY_PREFIX)) {
        mainPath = join(dir, "threaded-simd.cjs");
        Deno.writeTextFileSync(mainPath, PRELUDE + (parts as string[]).join(""));
      }
    }
  }
  const origCreate = URL.createObjectURL;
  const origCpus = os.cpus;
  globalThis.Blob = RecordingBlob as typeof Blob;
  URL.createObjectURL = (obj: Blob) => {
    const parts = (obj as RecordingBlob).parts;
    if (!parts || !parts.every((p) => typeof p === "string")) return origCreate(obj);
    const text = (parts as string[]).join("")
      .replace(
        "Object.assign(global,{",
        "((o)=>{for(const k in o){try{global[k]=o[k]}catch(_){}}})({",
      )
      .replace(
        "var objectUrl=URL.createObjectURL(e.data.urlOrBlob);importScripts(objectUrl);URL.revokeObjectURL(objectUrl)",
        `importScripts(${JSON.stringify(mainPath)})`,
      );
    const path = join(dir, `worker-${n++}.cjs`);
    Deno.writeTextFileSync(path, text);
    return path;
  };
  (os as { cpus: typeof os.cpus }).cpus = () => [...origCpus(), ...origCpus()];
  try {
    return await init();
  } finally {
    globalThis.Blob = OrigBlob;
    URL.createObjectURL = origCreate;
    (os as { cpus: typeof os.cpus }).cpus = origCpus;
    // The pool's workers have loaded both scripts once initialisation resolves.
    Deno.removeSync(dir, { recursive: true });
  }
}

/**
 * Lets the process exit while the pthread pool's workers are idle (Node's `worker.unref()`),
 * so that library users and tests need no explicit `Deno.exit()`.
 */
export function unrefWasmWorkers(backend: unknown): void {
  const pt =
    (backend as { wasm?: { PThread?: { runningWorkers?: unknown[]; unusedWorkers?: unknown[] } } })
      .wasm?.PThread;
  for (const w of [...(pt?.runningWorkers ?? []), ...(pt?.unusedWorkers ?? [])]) {
    (w as { unref?: () => void }).unref?.();
  }
}
