/**
 * The program's version, recorded in every output; deno.json's "version" must equal it.
 * @module
 */

/** recsimu's version. */
export const RECSIMU_VERSION = "0.1.0";
