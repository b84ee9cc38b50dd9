// Test-only: how long a promise took to settle, and how.

/** Await `p`; its error (if any) and the milliseconds it took. */
export async function timed(
  p: Promise<unknown>,
): Promise<{ err: unknown; ms: number }> {
  const t = performance.now();
  try {
    await p;
    return { err: undefined, ms: performance.now() - t };
  } catch (err) {
    return { err, ms: performance.now() - t };
  }
}
