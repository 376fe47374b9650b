/**
 * Output ownership: recsimu never removes or overwrites what it did not write.
 *
 * Every folder recsimu writes (a checkpoint, a synthetic log, a demo, an experiment) holds a
 * marker file, {@link OUTPUT_MARKER}, that names the kind of output and the entries recsimu put
 * there (with their sha256 where the content is fixed). A writing command may replace or
 * continue a folder only when the marker says it is that command's own output and the folder
 * holds nothing else; anything else that exists is refused with one line saying what exists and
 * what to do. Temporary folders and backups are siblings named `.recsimu-tmp-*` / `.recsimu-old-*`
 * (unique per process), so they cannot collide with a user's names.
 * @module
 */
import { basename, dirname, join, normalize, relative, resolve, sep } from "node:path";
import { createHash } from "node:crypto";
import { UserError } from "./errors.ts";
import { RECSIMU_VERSION } from "./version.ts";

/** Name of the marker file inside every folder recsimu writes. */
export const OUTPUT_MARKER = ".recsimu-output.json";
/** Format of the marker file. */
export const MARKER_FORMAT = 1;
/** Prefixes of recsimu's own temporary and backup siblings. */
export const TEMP_PREFIX = ".recsimu-tmp-";
export const BACKUP_PREFIX = ".recsimu-old-";

/** What a folder written by recsimu holds. */
export type OutputKind = "checkpoint" | "synth" | "truth" | "demo" | "experiment";

/** One entry a marker lists: a file with its checksum, or a folder / growing file (null). */
export type MarkedEntry = { sha256: string; bytes: number } | null;

/** The marker file's content. */
export interface OutputMarker {
  format: number;
  kind: OutputKind;
  recsimu: string;
  created: string;
  /** Entries recsimu wrote (names relative to the folder). */
  files: Record<string, MarkedEntry>;
  /**
   * Files recsimu is writing into a finished output (`updateCheckpointFile`): its own, but not
   * yet part of the output (readers treat them as absent). A write that dies leaves them here.
   */
  pending?: Record<string, MarkedEntry>;
}

/** sha256 of bytes, as hex. */
export function sha256(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/** The checksum entry of a file's bytes. */
export function entryOf(bytes: Uint8Array): MarkedEntry {
  return { sha256: sha256(bytes), bytes: bytes.byteLength };
}

/** A unique sibling path of recsimu's own: `.recsimu-tmp-NAME-PID-RAND` (or `-old-`). */
export function ownSibling(path: string, role: "tmp" | "old"): string {
  const rand = crypto.getRandomValues(new Uint32Array(2)).join("");
  const prefix = role === "tmp" ? TEMP_PREFIX : BACKUP_PREFIX;
  return join(dirname(path), `${prefix}${basename(path)}-${Deno.pid}-${rand}`);
}

/**
 * A user's output path made canonical: normalised, trailing slashes removed. Refuses an empty path, the current folder and any folder above it (renaming them is
 * impossible, and they hold the user's other files).
 */
export function outputPath(flag: string, value: string): string {
  if (value.trim() === "") throw new UserError(`${flag}: expected a path, got ""`);
  const abs = resolve(value);
  const rel = relative(abs, Deno.cwd());
  if (rel === "" || (!rel.startsWith("..") && !rel.startsWith(sep))) {
    throw new UserError(
      `${flag} "${value}" is the current folder or one above it; name a new folder for the output`,
    );
  }
  // The user's spelling is kept for messages, without trailing slashes ("f2/" is "f2").
  return normalize(value).replace(/(.)\/+$/, "$1");
}

/** Turns a file-system error into a one-line {@link UserError}; other errors pass through. */
export function fsUserError(e: unknown, action: string, path: string): unknown {
  const why = e instanceof Deno.errors.PermissionDenied
    ? "permission denied"
    : e instanceof Deno.errors.NotADirectory
    ? "a part of the path is a file, not a folder"
    : e instanceof Deno.errors.IsADirectory
    ? "it is a folder"
    : e instanceof Deno.errors.AlreadyExists
    ? "it already exists"
    : e instanceof Deno.errors.NotFound
    ? "a folder on the path does not exist"
    : e instanceof Deno.errors.Busy
    ? "it is in use"
    : e instanceof Deno.errors.FilesystemLoop
    ? "symbolic links loop"
    : undefined;
  if (why === undefined) {
    const code = (e as { code?: string })?.code;
    if (code === "EROFS") return new UserError(`Cannot ${action} "${path}": read-only file system`);
    if (code === "ENOSPC") {
      return new UserError(`Cannot ${action} "${path}": no space left on device`);
    }
    if (code === "EINVAL") return new UserError(`Cannot ${action} "${path}": invalid path`);
    return e;
  }
  return new UserError(`Cannot ${action} "${path}": ${why}`);
}

/** Reads a folder's marker; undefined when it has none (or an unreadable one). */
export async function readMarker(dir: string): Promise<OutputMarker | undefined> {
  let text: string;
  try {
    text = await Deno.readTextFile(join(dir, OUTPUT_MARKER));
  } catch {
    return undefined;
  }
  try {
    const m = JSON.parse(text) as OutputMarker;
    if (m.format !== MARKER_FORMAT || typeof m.kind !== "string" || typeof m.files !== "object") {
      return undefined;
    }
    return m;
  } catch {
    return undefined;
  }
}

/** The marker text for `files` (and `pending`, when any) of a `kind` of output. */
export function markerText(
  kind: OutputKind,
  files: Record<string, MarkedEntry>,
  pending: Record<string, MarkedEntry> = {},
): string {
  const m: OutputMarker = {
    format: MARKER_FORMAT,
    kind,
    recsimu: RECSIMU_VERSION,
    created: new Date().toISOString(),
    files,
    ...(Object.keys(pending).length > 0 ? { pending } : {}),
  };
  return JSON.stringify(m, null, 1) + "\n";
}

/** Checkpoints written before markers existed: a config.json with these fields. */
const LEGACY_CHECKPOINT_FILES = [
  "config.json",
  "vocab.json",
  "embeddings.bin",
  "weights.bin",
  "weights.json",
  "optimizer.bin",
  "optimizer.json",
  "best.bin",
  "best.json",
  "history.json",
  "start_states.json",
  "metrics.json",
];

/** Experiments written before markers existed: a results.json with these fields. */
const LEGACY_EXPERIMENT_ENTRIES = ["results.json", "report.html", "cache", "checkpoints"];

/** A checkpoint or experiment folder written by a recsimu from before markers, if `dir` is one. */
async function legacyOutput(dir: string): Promise<OutputMarker | undefined> {
  const json = (name: string) =>
    Deno.readTextFile(join(dir, name)).then((t) => JSON.parse(t), () => undefined);
  const legacy = (kind: OutputKind, names: string[]): OutputMarker => ({
    format: MARKER_FORMAT,
    kind,
    recsimu: "legacy",
    created: "",
    files: Object.fromEntries(names.map((f) => [f, null])),
  });
  const c = await json("config.json");
  if (typeof c?.format === "number" && typeof c?.recsimu === "string" && c?.position) {
    return legacy("checkpoint", LEGACY_CHECKPOINT_FILES);
  }
  const r = await json("results.json");
  if (typeof r?.format === "number" && r?.settings && Array.isArray(r?.runs)) {
    return legacy("experiment", LEGACY_EXPERIMENT_ENTRIES);
  }
  return undefined;
}

/** What stands at an output path. */
export type OutputState =
  | { state: "absent" }
  | { state: "file" }
  | { state: "link" }
  | { state: "empty" }
  | { state: "own"; marker: OutputMarker; foreign: string[] }
  | { state: "foreign"; entries: string[] };

/** Looks at `path` without changing anything. */
export async function inspectOutput(path: string): Promise<OutputState> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.lstat(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return { state: "absent" };
    throw fsUserError(e, "read", path);
  }
  if (info.isSymlink) return { state: "link" };
  if (!info.isDirectory) return { state: "file" };
  const entries: string[] = [];
  try {
    for await (const e of Deno.readDir(path)) entries.push(e.name);
  } catch (e) {
    throw fsUserError(e, "read", path);
  }
  if (entries.length === 0) return { state: "empty" };
  const marker = await readMarker(path) ?? await legacyOutput(path);
  if (!marker) return { state: "foreign", entries: entries.sort() };
  const foreign = entries.filter((n) =>
    n !== OUTPUT_MARKER && !(n in marker.files) && !(n in (marker.pending ?? {})) &&
    !n.startsWith(TEMP_PREFIX)
  ).sort();
  return { state: "own", marker, foreign };
}

/** `a, b, c (+N more)` for messages. */
function listNames(names: string[], max = 3): string {
  const shown = names.slice(0, max).map((n) => JSON.stringify(n)).join(", ");
  return names.length > max ? `${shown} (+${names.length - max} more)` : shown;
}

const KIND_NAMES: Record<OutputKind, string> = {
  checkpoint: "a recsimu checkpoint",
  synth: "a recsimu synthetic log",
  truth: "a recsimu known-truth world",
  demo: "a recsimu demo",
  experiment: "a recsimu experiment",
};

/** How a writing command may treat an existing output of its own kind. */
export interface ClaimOptions {
  /** The flag that named the path, for messages (e.g. "--out"). */
  flag: string;
  /** The kind of output the command writes. */
  kind: OutputKind;
  /** The command continues an existing output (train/experiment --resume). @default false */
  resume?: boolean;
  /** The command may replace a previous output of its own kind. @default false */
  overwrite?: boolean;
  /** Input files of the command (data, embeddings): the output must not hold or be one. */
  inputs?: string[];
}

/**
 * Checks that a command may write its output folder at `path` (canonical, from
 * {@link outputPath}); throws a one-line {@link UserError} saying what exists and what to do.
 * Returns whether an own output of the same kind is there (to continue or replace).
 */
export async function claimOutputDir(path: string, o: ClaimOptions): Promise<boolean> {
  for (const input of o.inputs ?? []) {
    const rel = relative(resolve(path), resolve(input));
    if (rel === "" || (!rel.startsWith("..") && !rel.startsWith(sep))) {
      throw new UserError(
        `${o.flag} "${path}" is or holds the input "${input}"; name a new folder for the output`,
      );
    }
  }
  const s = await inspectOutput(path);
  const what = KIND_NAMES[o.kind];
  const how = o.kind === "checkpoint" || o.kind === "experiment"
    ? "pass --resume to continue it or --overwrite to replace it"
    : "pass --overwrite to replace it";
  switch (s.state) {
    case "absent":
    case "empty":
      if (o.resume) {
        throw new UserError(
          `--resume: "${path}" ${s.state === "absent" ? "does not exist" : "is empty"}; ` +
            `there is nothing to continue (drop --resume to start)`,
        );
      }
      return false;
    case "file":
      throw new UserError(
        `${o.flag} "${path}" is an existing file; name a new folder (recsimu does not replace files it did not write)`,
      );
    case "link":
      throw new UserError(
        `${o.flag} "${path}" is a symbolic link; name a real folder or a new path`,
      );
    case "foreign":
      throw new UserError(
        `${o.flag} "${path}" is a folder recsimu did not write (it holds ${
          listNames(s.entries)
        }); name a new or empty folder`,
      );
    case "own":
      if (s.marker.kind !== o.kind) {
        throw new UserError(
          `${o.flag} "${path}" holds ${
            KIND_NAMES[s.marker.kind]
          }, not ${what}; name another folder`,
        );
      }
      if (s.foreign.length > 0) {
        throw new UserError(
          `${o.flag} "${path}" holds ${what} and files recsimu did not write (${
            listNames(s.foreign)
          }); move them out or name another folder`,
        );
      }
      if (!o.resume && !o.overwrite) {
        throw new UserError(`${o.flag} "${path}" already holds ${what}; ${how}`);
      }
      return true;
  }
}

/**
 * Refuses to replace `path` unless it is absent, empty, or recsimu's own output of `kind` with
 * nothing foreign in it: the last guard before a folder is moved aside or removed.
 */
export async function assertReplaceable(path: string, kind: OutputKind): Promise<void> {
  const s = await inspectOutput(path);
  if (s.state === "absent" || s.state === "empty") return;
  if (s.state === "own" && s.marker.kind === kind && s.foreign.length === 0) return;
  // Reuses claim's messages: the same situations, seen at write time.
  await claimOutputDir(path, { flag: "output", kind, overwrite: true });
}

/**
 * Checks that a command may write its one-file output at `path`: absent, or (with `overwrite`)
 * a file `own` recognises as the command's previous output.
 */
export async function claimOutputFile(
  path: string,
  o: { flag: string; overwrite?: boolean; own: (text: string) => boolean; what: string },
): Promise<void> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.lstat(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return;
    throw fsUserError(e, "read", path);
  }
  if (info.isDirectory) {
    throw new UserError(`${o.flag} "${path}" is a folder; name a file to write`);
  }
  if (!info.isFile) {
    throw new UserError(`${o.flag} "${path}" is not a regular file; name a new file`);
  }
  let text = "";
  try {
    const f = await Deno.open(path);
    try {
      const buf = new Uint8Array(Math.min(info.size, 1 << 20));
      const n = await f.read(buf);
      text = new TextDecoder().decode(buf.subarray(0, n ?? 0));
    } finally {
      f.close();
    }
  } catch (e) {
    throw fsUserError(e, "read", path);
  }
  if (!o.own(text)) {
    throw new UserError(
      `${o.flag} "${path}" is an existing file that is not ${o.what}; name a new file`,
    );
  }
  if (!o.overwrite) {
    throw new UserError(
      `${o.flag} "${path}" already holds ${o.what}; pass --overwrite to replace it`,
    );
  }
}

/**
 * Claims the one-file JSON report a command writes with `--out` (agent, fidelity): a new path,
 * or with `overwrite` a file whose JSON `kind` field is `kind` (that command's previous report).
 * Returns the canonical path, or undefined when no `--out` was given.
 */
export async function claimReportFile(
  value: string | boolean | undefined,
  o: { overwrite?: boolean; kind: string; what: string },
): Promise<string | undefined> {
  if (typeof value !== "string") return undefined;
  const out = outputPath("--out", value);
  const own = (text: string) => {
    try {
      return JSON.parse(text)?.kind === o.kind;
    } catch {
      return false;
    }
  };
  await claimOutputFile(out, { flag: "--out", overwrite: o.overwrite, own, what: o.what });
  return out;
}

/**
 * Makes `dir` the live folder of an own output of `kind` that is written piece by piece
 * (experiment, demo): creates it with its marker listing `entries`; with `replace`, a previous
 * own output there is moved to a backup sibling first and removed once the new folder exists.
 * Anything but an absent or empty folder or an own output of `kind` is refused
 * ({@link assertReplaceable}); commands claim `dir` first with {@link claimOutputDir}.
 */
export async function openOutputDir(
  dir: string,
  kind: OutputKind,
  entries: string[],
  opts: { replace?: boolean } = {},
): Promise<void> {
  try {
    await assertReplaceable(dir, kind);
    await Deno.mkdir(dirname(dir), { recursive: true });
    const s = await inspectOutput(dir);
    let backup: string | undefined;
    if (s.state === "own" && opts.replace) {
      backup = ownSibling(dir, "old");
      await Deno.rename(dir, backup);
    }
    await Deno.mkdir(dir, { recursive: true });
    const marker = await readMarker(dir);
    if (!marker || marker.kind !== kind) {
      const files = Object.fromEntries(entries.map((e) => [e, null]));
      await Deno.writeTextFile(join(dir, OUTPUT_MARKER), markerText(kind, files));
    }
    if (backup) await Deno.remove(backup, { recursive: true });
  } catch (e) {
    throw fsUserError(e, "write", dir);
  }
}
