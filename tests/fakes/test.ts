/**
 * Test-only: one `test()` for every runtime. Under Deno it registers through
 * `Deno.test` with the op and resource sanitizers on, so a socket, timer or
 * stream a test leaves behind fails it (Deno 2.9 has them off by default and
 * never applies them to `node:test` tests); elsewhere (Bun, compiled Node)
 * it is `node:test`'s `test`.
 */
import { test as nodeTest } from "node:test";

/** What a test body gets: nothing yet (kept for `node:test` compatibility). */
export type TestFn = () => void | Promise<void>;

/** Options of {@linkcode test}. */
export interface TestOptions {
  /**
   * Check for leaked ops and resources under Deno (default true). Turn off
   * only for a test that must leave something behind on purpose, and say
   * why next to it.
   */
  sanitize?: boolean;
}

interface DenoTestDefinition {
  name: string;
  fn: () => void | Promise<void>;
  sanitizeOps: boolean;
  sanitizeResources: boolean;
}

const deno = (globalThis as {
  Deno?: { test(definition: DenoTestDefinition): void };
}).Deno;

/** Register a test: `Deno.test` with sanitizers under Deno, `node:test` elsewhere. */
export function test(name: string, fn: TestFn, options: TestOptions = {}) {
  const sanitize = options.sanitize ?? true;
  if (deno) {
    deno.test({
      name,
      fn,
      sanitizeOps: sanitize,
      sanitizeResources: sanitize,
    });
  } else {
    nodeTest(name, fn);
  }
}

/** Whether {@linkcode test} checks for leaks on this runtime. */
export const checksLeaks: boolean = deno !== undefined;
