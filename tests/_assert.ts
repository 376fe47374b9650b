/**
 * Assertions for tests, on `node:assert/strict` (the JSR std assertions are not reachable).
 * @module
 */
import assertNode from "node:assert/strict";

export function assert(cond: unknown, msg?: string): asserts cond {
  if (msg === undefined) assertNode.ok(cond);
  else assertNode.ok(cond, msg);
}
export function assertEquals<T>(actual: T, expected: T, msg?: string): void {
  if (msg === undefined) assertNode.deepStrictEqual(actual, expected);
  else assertNode.deepStrictEqual(actual, expected, msg);
}
export function assertAlmostEquals(
  actual: number,
  expected: number,
  tol = 1e-6,
  msg?: string,
): void {
  assertNode.ok(
    Math.abs(actual - expected) <= tol,
    msg ?? `expected ${expected} ± ${tol}, got ${actual}`,
  );
}
/** Checks a caught error's class and message; returns it. */
function checkError(
  e: unknown,
  // deno-lint-ignore no-explicit-any
  errorClass?: new (...args: any[]) => Error,
  includes?: string,
): Error {
  if (errorClass && !(e instanceof errorClass)) {
    throw new assertNode.AssertionError({
      message: `expected ${errorClass.name}, got ${(e as Error).name}: ${(e as Error).message}`,
    });
  }
  if (includes && !(e as Error).message.includes(includes)) {
    throw new assertNode.AssertionError({
      message: `expected message to include "${includes}", got "${(e as Error).message}"`,
    });
  }
  return e as Error;
}

export async function assertRejects(
  f: () => Promise<unknown>,
  // deno-lint-ignore no-explicit-any
  errorClass?: new (...args: any[]) => Error,
  includes?: string,
): Promise<Error> {
  try {
    await f();
  } catch (e) {
    return checkError(e, errorClass, includes);
  }
  throw new assertNode.AssertionError({ message: "expected a rejection" });
}
export function assertThrows(
  f: () => unknown,
  // deno-lint-ignore no-explicit-any
  errorClass?: new (...args: any[]) => Error,
  includes?: string,
): Error {
  try {
    f();
  } catch (e) {
    return checkError(e, errorClass, includes);
  }
  throw new assertNode.AssertionError({ message: "expected an exception" });
}
