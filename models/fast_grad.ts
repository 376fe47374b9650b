/**
 * Fast gradients for matrix products on the WASM backend.
 *
 * tfjs backpropagates `matMul(a, b)` through `matMul(dy, b, false, true)` and
 * `matMul(a, dy, true, false)`. The WASM `BatchMatMul` kernel with a transposed operand runs an
 * order of magnitude slower than the plain product (measured: ~2.2 vs ~25 GFLOP/s), so this module
 * re-registers the gradient with the operand transposed first (a cheap copy), then a plain
 * product. The maths is unchanged; `tests/models/models_test.ts` checks it against the original.
 * @module
 */
import { tf } from "../lib/tf.ts";

function swapLast(x: tf.Tensor): tf.Tensor {
  const r = x.rank;
  const perm = [...Array(r).keys()];
  perm[r - 1] = r - 2;
  perm[r - 2] = r - 1;
  return tf.transpose(x, perm);
}

/** `matMul(a, b, transposeA, transposeB)` with transposes made explicit (fast kernels only). */
export function matMulExplicit(a: tf.Tensor, b: tf.Tensor, ta: boolean, tb: boolean): tf.Tensor {
  return tf.matMul(ta ? swapLast(a) : a, tb ? swapLast(b) : b);
}

let registered = false;

/** Re-registers the BatchMatMul gradient once per process. Idempotent. */
export function registerFastMatMulGrad(): void {
  if (registered) return;
  registered = true;
  tf.registerGradient({
    kernelName: "BatchMatMul",
    inputsToSave: ["a", "b"],
    gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[], attrs: tf.NamedAttrMap) => {
      const g = dy as tf.Tensor;
      const [a, b] = saved as [tf.Tensor, tf.Tensor];
      const { transposeA, transposeB } = attrs as unknown as {
        transposeA: boolean;
        transposeB: boolean;
      };
      const mm = matMulExplicit;
      if (!transposeA && !transposeB) {
        return { a: () => mm(g, b, false, true), b: () => mm(a, g, true, false) };
      } else if (!transposeA && transposeB) {
        return { a: () => mm(g, b, false, false), b: () => mm(g, a, true, false) };
      } else if (transposeA && !transposeB) {
        return { a: () => mm(b, g, false, true), b: () => mm(a, g, false, false) };
      }
      return { a: () => mm(b, g, true, true), b: () => mm(g, a, true, true) };
    },
  });
}

interface WasmBackendLike {
  makeOutput(shape: number[], dtype: string): tf.TensorInfo;
  typedArrayFromHeap(t: tf.TensorInfo): Float32Array | Int32Array | Uint8Array;
}

/** Replaces the WASM kernel `name` by `make(original)`; a no-op where tfjs-wasm lacks it. */
function replaceWasmKernel(
  name: string,
  make: (original: tf.KernelConfig) => tf.KernelFunc,
): void {
  const original = tf.getKernel(name, "wasm");
  if (!original) return;
  tf.unregisterKernel(name, "wasm");
  tf.registerKernel({
    kernelName: name,
    backendName: "wasm",
    setupFunc: original.setupFunc,
    kernelFunc: make(original),
  });
}

/** Copies a contiguous slice of `x` straight from the WASM heap into a new output. */
function copySlice(
  x: tf.TensorInfo,
  begin: number[],
  size: number[],
  backend: WasmBackendLike,
): tf.TensorInfo {
  const out = backend.makeOutput(size, x.dtype);
  const strides = tf.util.computeStrides(x.shape);
  const offset = begin.reduce((acc, b, i) => acc + b * (i < strides.length ? strides[i]! : 1), 0);
  const n = tf.util.sizeFromShape(size);
  backend.typedArrayFromHeap(out).set(backend.typedArrayFromHeap(x).subarray(offset, offset + n));
  return out;
}

/** `Slice`: contiguous slices copied by {@link copySlice}; others go to the original kernel. */
function fastSlice(original: tf.KernelConfig): tf.KernelFunc {
  return (args) => {
    const x = args.inputs.x as tf.TensorInfo;
    const { begin, size } = args.attrs as unknown as { begin: number[]; size: number[] };
    const [b, s] = tf.slice_util.parseSliceParams(x as unknown as tf.Tensor, begin, size) as [
      number[],
      number[],
    ];
    if (x.dtype !== "string" && tf.slice_util.isSliceContinous(x.shape, b, s)) {
      return copySlice(x, b, s, args.backend as unknown as WasmBackendLike);
    }
    return original.kernelFunc(args);
  };
}

/** `SplitV`: one heap copy per row and part. */
function fastSplitV(splitV: tf.KernelConfig): tf.KernelFunc {
  return (args) => {
    const x = args.inputs.x as tf.TensorInfo;
    const { numOrSizeSplits, axis } = args.attrs as unknown as {
      numOrSizeSplits: number | number[];
      axis: number;
    };
    if (x.dtype === "string") return splitV.kernelFunc(args);
    const ax = tf.util.parseAxisParam(axis, x.shape)[0]!;
    const sizes = tf.backend_util.prepareSplitSize(
      x as unknown as tf.Tensor,
      numOrSizeSplits,
      ax,
    );
    const backend = args.backend as unknown as WasmBackendLike;
    const outer = tf.util.sizeFromShape(x.shape.slice(0, ax));
    const inner = tf.util.sizeFromShape(x.shape.slice(ax + 1));
    const rowLen = x.shape[ax]! * inner;
    const outs = sizes.map((sz) => {
      const shape = x.shape.slice();
      shape[ax] = sz;
      return backend.makeOutput(shape, x.dtype);
    });
    const src = backend.typedArrayFromHeap(x);
    let off = 0;
    outs.forEach((o, j) => {
      const len = sizes[j]! * inner;
      const dst = backend.typedArrayFromHeap(o);
      for (let r = 0; r < outer; r++) {
        const from = r * rowLen + off;
        dst.set(src.subarray(from, from + len), r * len);
      }
      off += len;
    });
    return outs;
  };
}

/**
 * `Identity` (tf.clone, and the engine's copy of every tensor a gradient will need: ~1,500 per
 * adversarial step) copies its input in tfjs-wasm; tensors are immutable, so share the data
 * with a reference count instead, as the CPU and WebGL backends do.
 */
function sharedIdentity(identity: tf.KernelConfig): tf.KernelFunc {
  return (args) => {
    const x = args.inputs.x as tf.TensorInfo;
    if (x.dtype === "string") return identity.kernelFunc(args);
    (args.backend as unknown as { incRef(id: unknown): void }).incRef(x.dataId);
    return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
  };
}

/** `Unpack` along the first axis: one heap copy per output; other axes use the original. */
function fastUnpack(unpack: tf.KernelConfig): tf.KernelFunc {
  return (args) => {
    const x = args.inputs.value as tf.TensorInfo;
    const axis = (args.attrs as unknown as { axis: number }).axis;
    if (x.dtype === "string" || (axis !== 0 && axis !== -x.shape.length)) {
      return unpack.kernelFunc(args);
    }
    const backend = args.backend as unknown as WasmBackendLike;
    const n = x.shape[0]!;
    const inner = x.shape.slice(1);
    const size = tf.util.sizeFromShape(inner);
    const outs: tf.TensorInfo[] = [];
    for (let i = 0; i < n; i++) outs.push(backend.makeOutput(inner, x.dtype));
    // Views are taken after all allocations: allocation may grow (and detach) the heap.
    const src = backend.typedArrayFromHeap(x);
    outs.forEach((o, i) =>
      backend.typedArrayFromHeap(o).set(src.subarray(i * size, (i + 1) * size))
    );
    return outs;
  };
}

/**
 * `GatherV2` along axis 0 (embedding rows, packed states): one heap copy per index, ~20× faster
 * than tfjs-wasm 4.22's kernel (8.5 ms for 5,120 rows of 32 floats); other axes, batch
 * dimensions and out-of-range indices go to the original.
 */
function fastGather(gather: tf.KernelConfig): tf.KernelFunc {
  return (args) => {
    const x = args.inputs.x as tf.TensorInfo, idx = args.inputs.indices as tf.TensorInfo;
    const { axis, batchDims } = args.attrs as unknown as { axis: number; batchDims?: number };
    if (
      x.dtype === "string" || idx.dtype !== "int32" || (batchDims ?? 0) !== 0 ||
      tf.util.parseAxisParam(axis, x.shape)[0] !== 0
    ) return gather.kernelFunc(args);
    const backend = args.backend as unknown as WasmBackendLike;
    const rows = x.shape[0]!;
    for (const r of backend.typedArrayFromHeap(idx)) {
      if (r < 0 || r >= rows) return gather.kernelFunc(args);
    }
    const inner = tf.util.sizeFromShape(x.shape.slice(1));
    const out = backend.makeOutput([...idx.shape, ...x.shape.slice(1)], x.dtype);
    // Views are taken after the allocation, which may grow (and detach) the heap.
    const src = backend.typedArrayFromHeap(x), ids = backend.typedArrayFromHeap(idx);
    const dst = backend.typedArrayFromHeap(out);
    if (inner === 1) {
      for (let i = 0; i < ids.length; i++) dst[i] = src[ids[i]!]!;
    } else {
      for (let i = 0; i < ids.length; i++) {
        const r = ids[i]! * inner;
        dst.set(src.subarray(r, r + inner), i * inner);
      }
    }
    return out;
  };
}

let kernelsRegistered = false;

/**
 * Faster WASM kernels for slices, splits, unstacking, row gathers and identity. tfjs-backend-wasm 4.22's
 * `Slice` (and `Unpack`, built on it) first copies the whole input out of the WASM heap with
 * `readSync`, which made reading one time step of a [N, B, 3H] tensor cost ~2 ms. These versions
 * copy only the slice, straight from a heap view (SplitV: one copy per row and part);
 * non-contiguous slices go to the original kernel. `Identity` shares its input's data by
 * reference count instead of copying it. `tests/models/models_test.ts` compares them with the CPU
 * backend.
 */
export function registerFastWasmKernels(): void {
  if (kernelsRegistered) return;
  kernelsRegistered = true;
  replaceWasmKernel("Slice", fastSlice);
  replaceWasmKernel("SplitV", fastSplitV);
  replaceWasmKernel("Identity", sharedIdentity);
  replaceWasmKernel("Unpack", fastUnpack);
  replaceWasmKernel("GatherV2", fastGather);
}
