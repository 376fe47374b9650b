/**
 * Atomic writes: content goes to a temporary sibling first and is renamed into place, so a
 * reader (or a crash) never sees a half-written file or directory.
 * @module
 */
import { basename, dirname, join } from "node:path";

function tempSibling(path: string): string {
  const rand = crypto.getRandomValues(new Uint32Array(2)).join("");
  return join(dirname(path), `.tmp-${basename(path)}-${Deno.pid}-${rand}`);
}

/** Writes `data` to `path` and flushes it to disk (fsync) before resolving. */
export async function writeFileSynced(path: string, data: string | Uint8Array): Promise<void> {
  const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
  const f = await Deno.open(path, { write: true, create: true, truncate: true });
  try {
    let off = 0;
    while (off < bytes.length) off += await f.write(bytes.subarray(off));
    await f.sync();
  } finally {
    f.close();
  }
}

/** Writes `data` to `path` atomically (temp file + fsync + rename). */
export async function writeFileAtomic(path: string, data: string | Uint8Array): Promise<void> {
  await Deno.mkdir(dirname(path), { recursive: true });
  const tmp = tempSibling(path);
  await writeFileSynced(tmp, data);
  await Deno.rename(tmp, path);
}

/**
 * Streams into `path` atomically: `fill` writes to a temporary file, which is renamed into
 * place only when `fill` resolves; on error the temporary file is removed.
 */
export async function streamFileAtomic(
  path: string,
  fill: (write: (chunk: string | Uint8Array) => Promise<void>) => Promise<void>,
): Promise<void> {
  await Deno.mkdir(dirname(path), { recursive: true });
  const tmp = tempSibling(path);
  const f = await Deno.open(tmp, { write: true, create: true, truncate: true });
  const enc = new TextEncoder();
  try {
    await fill(async (chunk) => {
      const b = typeof chunk === "string" ? enc.encode(chunk) : chunk;
      let off = 0;
      while (off < b.length) off += await f.write(b.subarray(off));
    });
    await f.sync();
    f.close();
  } catch (e) {
    f.close();
    await Deno.remove(tmp).catch(() => {});
    throw e;
  }
  await Deno.rename(tmp, path);
}

/**
 * Replaces directory `dir` atomically with the files `fill` writes into a temporary directory.
 * The previous `dir`, if any, is moved aside first and removed after the swap, so at every
 * moment either the old or the new complete directory exists under `dir` or `dir.old`.
 */
export async function writeDirAtomic(
  dir: string,
  fill: (tmpDir: string) => Promise<void>,
): Promise<void> {
  await Deno.mkdir(dirname(dir), { recursive: true });
  const tmp = tempSibling(dir);
  await Deno.mkdir(tmp);
  try {
    await fill(tmp);
  } catch (e) {
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
    throw e;
  }
  const old = `${dir}.old`;
  await Deno.remove(old, { recursive: true }).catch(() => {});
  let hadOld = false;
  try {
    await Deno.rename(dir, old);
    hadOld = true;
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  await Deno.rename(tmp, dir);
  if (hadOld) await Deno.remove(old, { recursive: true }).catch(() => {});
}
