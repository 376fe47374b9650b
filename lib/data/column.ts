/**
 * Growable numeric columns for building large data sets in memory.
 * @module
 */

/**
 * A growable column of numbers, kept in fixed-size chunks: growing never copies and the data
 * is never held twice (a doubling array peaks at 3× its data while it copies, and a final
 * exact-size copy doubles it again: hundreds of megabytes at 8 M rows).
 *
 * @example
 * ```ts
 * import { Column } from "./column.ts";
 * const c = new Column(Int32Array);
 * c.push(7);
 * c.at(0); // 7
 * c.toArray(); // Int32Array [7]
 * ```
 */
export class Column<T extends Int32Array | Float64Array> {
  static readonly SHIFT = 20;
  static readonly CHUNK = 1 << Column.SHIFT;
  readonly #chunks: T[] = [];
  #last: T | undefined;
  #fill = Column.CHUNK;
  /** Number of values. */
  length = 0;
  /** @param Type the array type of the values, e.g. `Int32Array`. */
  constructor(readonly Type: new (n: number) => T) {}
  push(v: number): void {
    if (this.#fill === Column.CHUNK) {
      this.#last = new this.Type(Column.CHUNK);
      this.#chunks.push(this.#last);
      this.#fill = 0;
    }
    this.#last![this.#fill++] = v;
    this.length++;
  }
  /** Value `i` (0 <= i < length). */
  at(i: number): number {
    return this.#chunks[i >>> Column.SHIFT]![i & (Column.CHUNK - 1)]!;
  }
  /** The values as one exact-size array. */
  toArray(): T {
    const out = new this.Type(this.length);
    this.#chunks.forEach((c, k) => {
      const start = k * Column.CHUNK;
      out.set(c.subarray(0, Math.min(Column.CHUNK, this.length - start)), start);
    });
    return out;
  }
}
