/**
 * Atomic writes: content goes to a temporary sibling first and is renamed into place, so a
 * reader (or a crash) never sees a half-written file or directory. Temporary siblings and
 * backups carry recsimu's own prefixes (lib/output.ts), and file-system failures become
 * one-line user errors naming the path.
 * @module
 */
import { dirname, join } from "node:path";
import {
  assertReplaceable,
  fsUserError,
  type MarkedEntry,
  markerText,
  OUTPUT_MARKER,
  type OutputKind,
  ownSibling,
} from "./output.ts";

const tempSibling = (path: string) => ownSibling(path, "tmp");

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
  await streamFileAtomic(path, (write) => write(data));
}

/**
 * Streams into `path` atomically: `fill` writes to a temporary file, which is renamed into
 * place only when `fill` resolves; on error the temporary file is removed.
 */
export async function streamFileAtomic(
  path: string,
  fill: (write: (chunk: string | Uint8Array) => Promise<void>) => Promise<void>,
): Promise<void> {
  const tmp = tempSibling(path);
  let f: Deno.FsFile;
  try {
    await Deno.mkdir(dirname(path), { recursive: true });
    f = await Deno.open(tmp, { write: true, createNew: true });
  } catch (e) {
    throw fsUserError(e, "write", path);
  }
  const enc = new TextEncoder();
  try {
    await fill(async (chunk) => {
      const b = typeof chunk === "string" ? enc.encode(chunk) : chunk;
      let off = 0;
      while (off < b.length) off += await f.write(b.subarray(off));
    });
    await f.sync();
    f.close();
    await Deno.rename(tmp, path);
  } catch (e) {
    try {
      f.close();
    } catch { /* already closed */ }
    await Deno.remove(tmp).catch(() => {});
    throw fsUserError(e, "write", path);
  }
}

/**
 * Replaces directory `dir` atomically with the files `fill` writes into a temporary directory;
 * `fill` returns the entries it wrote, which go into the folder's marker (written last, so its
 * presence marks a complete folder). `dir` must be absent, empty or recsimu's own output of
 * `kind` ({@link assertReplaceable}). The previous `dir` is moved to a unique backup sibling
 * (`.recsimu-old-NAME-…`) first and removed after the swap, so at every moment either the old or
 * the new complete folder exists, under `dir` or that backup.
 */
export async function writeDirAtomic(
  dir: string,
  kind: OutputKind,
  fill: (tmpDir: string) => Promise<Record<string, MarkedEntry>>,
): Promise<void> {
  await assertReplaceable(dir, kind);
  const tmp = tempSibling(dir);
  try {
    await Deno.mkdir(dirname(dir), { recursive: true });
    await Deno.mkdir(tmp);
  } catch (e) {
    throw fsUserError(e, "write", dir);
  }
  try {
    const files = await fill(tmp);
    await writeFileSynced(join(tmp, OUTPUT_MARKER), markerText(kind, files));
  } catch (e) {
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
    throw fsUserError(e, "write", dir);
  }
  const old = ownSibling(dir, "old");
  let hadOld = false;
  try {
    await Deno.rename(dir, old);
    hadOld = true;
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) {
      await Deno.remove(tmp, { recursive: true }).catch(() => {});
      throw fsUserError(e, "replace", dir);
    }
  }
  try {
    await Deno.rename(tmp, dir);
  } catch (e) {
    if (hadOld) await Deno.rename(old, dir).catch(() => {});
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
    throw fsUserError(e, "write", dir);
  }
  if (hadOld) await Deno.remove(old, { recursive: true }).catch(() => {});
}
