import { test } from "node:test";
import assert from "node:assert/strict";
import { Deadline, PacedDeadline } from "./deadline.ts";
import { AbortedError, TimeoutError } from "../errors.ts";

/**
 * Track the timers created through the global setTimeout while `body` runs:
 * the ids still pending and every delay asked for.
 */
async function withTimerTracking(
  body: (live: Set<unknown>, delays: number[]) => Promise<void>,
): Promise<void> {
  const realSet = globalThis.setTimeout;
  const realClear = globalThis.clearTimeout;
  const live = new Set<unknown>();
  const delays: number[] = [];
  // deno-lint-ignore no-explicit-any
  const set = (fn: (...a: any[]) => void, ms?: number, ...args: any[]) => {
    delays.push(ms ?? 0);
    const id = realSet(() => {
      live.delete(id);
      fn(...args);
    }, ms);
    live.add(id);
    return id;
  };
  const clear = (id?: unknown) => {
    live.delete(id);
    realClear(id as ReturnType<typeof setTimeout>);
  };
  globalThis.setTimeout = set as typeof setTimeout;
  globalThis.clearTimeout = clear as typeof clearTimeout;
  try {
    await body(live, delays);
  } finally {
    globalThis.setTimeout = realSet;
    globalThis.clearTimeout = realClear;
  }
}

const never = () => new Promise<never>(() => {});
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test("deadline: no budget and no signal is a passthrough", async () => {
  for (const ms of [undefined, 0, -5, NaN, Infinity]) {
    const d = new Deadline(ms);
    assert.equal(d.ms, Infinity);
    assert.equal(d.remaining(), Infinity);
    d.check("x");
    const p = Promise.resolve(1);
    assert.equal(d.race(p, () => assert.fail("onFail"), "x"), p);
    assert.equal(await d.race(p, () => {}, "x"), 1);
  }
});

test("deadline: result and rejection pass through unchanged", async () => {
  await withTimerTracking(async (live) => {
    const d = new Deadline(5000, new AbortController().signal);
    let failed = 0;
    assert.equal(await d.race(Promise.resolve("v"), () => failed++, "x"), "v");
    const boom = new Error("boom");
    await assert.rejects(
      d.race(Promise.reject(boom), () => failed++, "x"),
      (e) => e === boom,
    );
    assert.equal(failed, 0);
    assert.equal(live.size, 0, "timers cleared after settling");
  });
});

test("deadline: expiry rejects with TimeoutError carrying .timeout", async () => {
  await withTimerTracking(async (live) => {
    const d = new Deadline(40);
    assert.ok(d.remaining() <= 40 && d.remaining() > 0);
    let failed = 0;
    const t0 = Date.now();
    await assert.rejects(
      d.race(never(), () => failed++, "reading a reply"),
      (e: unknown) => {
        assert.ok(e instanceof TimeoutError);
        assert.equal(e.timeout, 40);
        assert.match(e.message, /reading a reply.*40 ms/);
        return true;
      },
    );
    const elapsed = Date.now() - t0;
    assert.ok(elapsed >= 30 && elapsed < 1000, `elapsed ${elapsed}`);
    assert.equal(failed, 1, "onFail called once");
    assert.equal(live.size, 0);
    assert.equal(d.remaining(), 0);
    assert.throws(() => d.check("x"), TimeoutError);
  });
});

test("deadline: onFail runs before the rejection is seen", async () => {
  const order: string[] = [];
  const d = new Deadline(10);
  await d.race(never(), () => order.push("onFail"), "x").catch(() =>
    order.push("rejected")
  );
  assert.deepEqual(order, ["onFail", "rejected"]);
});

test("deadline: onFail throwing does not hide the typed error", async () => {
  const d = new Deadline(10);
  await assert.rejects(
    d.race(never(), () => {
      throw new Error("close failed");
    }, "x"),
    TimeoutError,
  );
});

test("deadline: an already passed deadline fails at once", async () => {
  await withTimerTracking(async (live) => {
    const d = new Deadline(1);
    await sleep(5);
    let failed = 0;
    await assert.rejects(d.race(never(), () => failed++, "x"), TimeoutError);
    assert.equal(failed, 1);
    assert.equal(live.size, 0);
  });
});

test("deadline: abort mid-wait rejects with AbortedError and the reason as cause", async () => {
  await withTimerTracking(async (live) => {
    const ac = new AbortController();
    const d = new Deadline(10_000, ac.signal);
    let failed = 0;
    const p = d.race(never(), () => failed++, "sending");
    setTimeout(() => ac.abort("user gave up"), 5);
    await assert.rejects(p, (e: unknown) => {
      assert.ok(e instanceof AbortedError);
      assert.equal(e.cause, "user gave up");
      assert.match(e.message, /sending aborted/);
      return true;
    });
    assert.equal(failed, 1);
    assert.equal(live.size, 0, "the deadline timer is cleared on abort");
    assert.throws(() => d.check("x"), AbortedError);
  });
});

test("deadline: a signal without a budget still aborts", async () => {
  const ac = new AbortController();
  const d = new Deadline(undefined, ac.signal);
  const reason = new Error("stop");
  const p = d.race(never(), () => {}, "x");
  ac.abort(reason);
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof AbortedError);
    assert.equal(e.cause, reason);
    return true;
  });
});

test("deadline: an already aborted signal fails at once", async () => {
  const ac = new AbortController();
  ac.abort("early");
  const d = new Deadline(10_000, ac.signal);
  let failed = 0;
  await assert.rejects(d.race(never(), () => failed++, "x"), AbortedError);
  assert.equal(failed, 1);
  assert.throws(() => d.check("x"), AbortedError);
});

test("deadline: the abort listener is removed once the wait settles", async () => {
  const ac = new AbortController();
  const d = new Deadline(undefined, ac.signal);
  let failed = 0;
  await d.race(Promise.resolve(1), () => failed++, "x");
  await assert.rejects(
    d.race(Promise.reject(new Error("e")), () => failed++, "x"),
  );
  ac.abort();
  assert.equal(failed, 0, "a settled wait does not react to a later abort");
});

test("deadline: many waits on one deadline leave no timers behind", async () => {
  await withTimerTracking(async (live) => {
    const d = new Deadline(60_000, new AbortController().signal);
    for (let i = 0; i < 20; i++) {
      await d.race(sleep(0).then(() => i), () => {}, "x");
    }
    assert.equal(live.size, 0);
  });
});

test("deadline: a budget beyond the 32-bit timer range does not fire at once", async () => {
  await withTimerTracking(async (live, delays) => {
    const d = new Deadline(2 ** 31 + 10_000);
    let failed = 0;
    const v = await d.race(sleep(30).then(() => "done"), () => failed++, "x");
    assert.equal(v, "done");
    assert.equal(failed, 0);
    assert.ok(
      delays.every((ms) => ms <= 2 ** 31 - 1),
      `timer delays ${delays.join(",")}`,
    );
    assert.equal(live.size, 0);
  });
});

// ---- PacedDeadline: a window per pull, one lazy timer ----

test("paced deadline: a thousand quick reads in windows arm one timer", async () => {
  await withTimerTracking(async (live, delays) => {
    const d = new PacedDeadline(new Deadline(60_000));
    for (let i = 0; i < 1000; i++) {
      d.restart();
      await d.race(Promise.resolve(i), () => {}, "x");
    }
    assert.equal(delays.length, 1);
    assert.ok(delays[0] <= 500, `re-checks after ${delays[0]} ms`);
    d.dispose();
    assert.equal(live.size, 0);
  });
});

test("paced deadline: a stall fails within its window, after earlier windows", async () => {
  const d = new PacedDeadline(new Deadline(120));
  let failed = 0;
  // Waits that each fit their window, together far longer than one.
  for (let i = 0; i < 4; i++) {
    d.restart();
    await d.race(sleep(60), () => failed++, "x");
  }
  assert.equal(failed, 0);
  d.restart();
  const t0 = performance.now();
  const err = await d.race(never(), () => failed++, "reading").catch((e) => e);
  const took = performance.now() - t0;
  assert.ok(err instanceof TimeoutError);
  assert.equal(err.timeout, 120);
  assert.equal(failed, 1);
  assert.ok(took >= 110 && took < 1000, `took ${took} ms`);
  assert.throws(() => d.check("x"), TimeoutError);
  d.dispose();
});

test("paced deadline: a shorter window (a drain) fires on its own time", async () => {
  const d = new PacedDeadline(new Deadline(60_000));
  await d.race(Promise.resolve(), () => {}, "x"); // the long timer is armed
  d.restart(80);
  const t0 = performance.now();
  await assert.rejects(d.race(never(), () => {}, "draining"), TimeoutError);
  assert.ok(performance.now() - t0 < 1000);
  d.dispose();
});

test("paced deadline: a slow consumer between windows is not a timeout", async () => {
  const d = new PacedDeadline(new Deadline(50));
  await d.race(Promise.resolve(), () => {}, "x");
  await sleep(150); // the consumer's pace: no wait in progress
  d.restart();
  assert.equal(await d.race(sleep(10).then(() => 7), () => {}, "x"), 7);
  d.dispose();
});

test("paced deadline: abort mid-wait, one listener for its life", async () => {
  const ac = new AbortController();
  let added = 0;
  const add = ac.signal.addEventListener.bind(ac.signal);
  ac.signal.addEventListener = ((...a: Parameters<typeof add>) => {
    added++;
    return add(...a);
  }) as typeof add;
  const d = new PacedDeadline(new Deadline(60_000, ac.signal));
  for (let i = 0; i < 10; i++) {
    d.restart();
    await d.race(Promise.resolve(), () => {}, "x");
  }
  assert.equal(added, 1);
  let failed = 0;
  const p = d.race(never(), () => failed++, "reading");
  ac.abort(new Error("stop"));
  const err = await p.catch((e) => e);
  assert.ok(err instanceof AbortedError);
  assert.equal(failed, 1);
  d.dispose();
});

test("paced deadline: left without a wait, its timer stops within 500 ms", async () => {
  await withTimerTracking(async (live) => {
    const d = new PacedDeadline(new Deadline(60_000));
    await d.race(Promise.resolve(), () => {}, "x");
    assert.equal(live.size, 1);
    await new Promise((r) => globalThis.setTimeout(r, 600));
    assert.equal(live.size, 0); // never disposed: nothing lingers
  });
});
