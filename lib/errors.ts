/**
 * Error types that callers catch. Everything a user can cause (bad flags, bad files, bad
 * checkpoints) is a {@link UserError}; `main.ts` maps it to exit code 2 with a one-line
 * message. Anything else is a bug and exits 1.
 * @module
 */

/** A problem caused by the user's input (flags, files, requests), not by a bug. */
export class UserError extends Error {
  override name = "UserError";
}

/** Where in a text file a problem was found. Lines and columns are 1-based. */
export interface FilePosition {
  /** Path of the file as given by the user. */
  file: string;
  /** 1-based line number (physical line of the record's start). */
  line?: number;
  /** Column name or 1-based index. */
  column?: string | number;
}

/**
 * A data file that does not follow its documented format.
 *
 * @example
 * ```ts
 * const e = new DataFormatError({ file: "log.csv", line: 17, column: "feedback" }, "empty value");
 * e.message; // 'Cannot read "log.csv": line 17, column feedback: empty value'
 * ```
 */
export class DataFormatError extends UserError {
  override name = "DataFormatError";
  /** Where the problem is. */
  readonly position: FilePosition;
  constructor(position: FilePosition, detail: string) {
    const where = [
      position.line !== undefined ? `line ${position.line}` : undefined,
      position.column !== undefined ? `column ${position.column}` : undefined,
    ].filter((x) => x !== undefined).join(", ");
    super(`Cannot read "${position.file}": ${where ? where + ": " : ""}${detail}`);
    this.position = position;
  }
}

/** A checkpoint directory that is missing, corrupted or from an incompatible version. */
export class CheckpointError extends UserError {
  override name = "CheckpointError";
}

/** Training diverged (NaN or Inf in a loss). */
export class DivergenceError extends UserError {
  override name = "DivergenceError";
}
