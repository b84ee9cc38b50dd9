// Test-only: the part of node:assert/strict the shared cases use, for bundles that run in workerd without nodejs_compat.

/** Thrown by every failed assertion. */
export class AssertionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "AssertionError";
  }
}

function show(value: unknown): string {
  try {
    return typeof value === "string" ? JSON.stringify(value) : String(value);
  } catch {
    return Object.prototype.toString.call(value);
  }
}

function fail(message?: string | Error): never {
  if (message instanceof Error) throw message;
  throw new AssertionError(message ?? "failed");
}

function ok(value: unknown, message?: string | Error): asserts value {
  if (!value) fail(message ?? `expected a truthy value, got ${show(value)}`);
}

function equal(actual: unknown, expected: unknown, message?: string): void {
  if (!Object.is(actual, expected)) {
    fail(message ?? `expected ${show(expected)}, got ${show(actual)}`);
  }
}

function same(a: unknown, b: unknown, depth = 0): boolean {
  if (Object.is(a, b)) return true;
  if (depth > 32 || typeof a !== "object" || typeof b !== "object") {
    return false;
  }
  if (a === null || b === null) return false;
  if (Object.getPrototypeOf(a) !== Object.getPrototypeOf(b)) return false;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  return ka.every((k) =>
    same(
      (a as Record<string, unknown>)[k],
      (b as Record<string, unknown>)[k],
      depth + 1,
    )
  );
}

function deepEqual(actual: unknown, expected: unknown, message?: string) {
  if (!same(actual, expected)) {
    fail(
      message ??
        `expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`,
    );
  }
}

function match(text: string, pattern: RegExp, message?: string): void {
  if (typeof text !== "string" || !pattern.test(text)) {
    fail(message ?? `${show(text)} does not match ${pattern}`);
  }
}

type Expected =
  | RegExp
  | (new (...args: never[]) => unknown)
  | ((error: unknown) => boolean);

function check(error: unknown, expected: Expected | undefined): void {
  if (expected === undefined) return;
  if (expected instanceof RegExp) {
    match(String(error), expected);
    return;
  }
  const proto = (expected as { prototype?: unknown }).prototype;
  if (
    proto !== undefined &&
    (expected === Error || proto instanceof Error)
  ) {
    if (!(error instanceof (expected as new () => unknown))) {
      fail(
        `expected a ${(expected as { name: string }).name}, got ${show(error)}`,
      );
    }
    return;
  }
  if ((expected as (error: unknown) => boolean)(error) !== true) {
    fail(`the validation function rejected ${show(error)}`);
  }
}

async function rejects(
  what: Promise<unknown> | (() => Promise<unknown>),
  expected?: Expected,
  message?: string,
): Promise<void> {
  let error: unknown;
  try {
    await (typeof what === "function" ? what() : what);
  } catch (caught) {
    error = caught;
    check(error, expected);
    return;
  }
  fail(message ?? "missing expected rejection");
}

function throws(fn: () => unknown, expected?: Expected): void {
  try {
    fn();
  } catch (error) {
    check(error, expected);
    return;
  }
  fail("missing expected exception");
}

const assert = Object.assign(
  (value: unknown, message?: string) => ok(value, message),
  { ok, equal, deepEqual, match, rejects, throws, fail, AssertionError },
);

export default assert;
export { deepEqual, equal, fail, match, ok, rejects, throws };
