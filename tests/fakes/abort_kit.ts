// Test-only: helpers for the abort-at-every-phase tests (tests/aborts/): a controller the fake fires, and what to check after.

import assert from "node:assert/strict";
import { AbortedError } from "../../errors.ts";
import { defaultConnector } from "../../tls/connect.ts";
import type { Connector } from "../../tls/conn.ts";
import type { Scenario, ScenarioContext } from "./hostile_kit.ts";

/** Promptness: an abort ends the call within this many ms. */
export const PROMPT_MS = 500;

/** One phase's abort: the controller, its reason, and a way for the fake to fire it. */
export interface Trigger {
  controller: AbortController;
  reason: Error;
  /** Abort now (from the fake, when the phase's command arrives). */
  fire(): void;
  /** Abort `ms` after now. */
  fireIn(ms: number): void;
}

/** A trigger for phase `phase`. */
export function trigger(phase: string): Trigger {
  const controller = new AbortController();
  const reason = new Error(`aborted at ${phase}`);
  return {
    controller,
    reason,
    fire: () => controller.abort(reason),
    fireIn: (ms) => void setTimeout(() => controller.abort(reason), ms),
  };
}

/** The AbortedError's cause is the signal's reason. */
export function causedBy(t: Trigger): (err: Error) => void {
  return (err) => assert.equal(err.cause, t.reason, "cause = the reason");
}

/** An outcome-unknown error whose cause is the abort (cause = the reason). */
export function unknownCausedBy(t: Trigger): (err: Error) => void {
  return (err) => {
    assert.ok(err.cause instanceof AbortedError, String(err.cause));
    assert.equal((err.cause as Error).cause, t.reason, "cause = the reason");
  };
}

/**
 * A connector that takes `ms` to open a real socket and ignores the abort
 * (a slow network): the client must give up at once and close the socket
 * that arrives late.
 */
export function slowConnector(ms: number): Connector {
  return async (target) => {
    await new Promise((r) => setTimeout(r, ms));
    return await defaultConnector(target);
  };
}

/** After a connect-phase abort: the late socket arrives at the fake and is closed. */
export async function lateSocketClosed(
  ctx: ScenarioContext,
  ms: number,
): Promise<void> {
  const until = Date.now() + ms + 2000;
  while (ctx.server && ctx.server.peers.length === 0 && Date.now() < until) {
    await new Promise((r) => setTimeout(r, 10));
  }
  assert.equal(ctx.server?.peers.length, 1, "the late socket arrived");
  assert.ok(await ctx.peer().waitClosed(2000), "and was closed");
}

/** Fields every abort scenario shares. */
export function aborting<P extends Scenario["protocol"]>(
  t: Trigger,
  s: Omit<Scenario<P>, "abort" | "fromAbort" | "within" | "error"> & {
    error?: Scenario["error"];
    within?: number;
  },
): Scenario<P> {
  return {
    error: AbortedError,
    check: causedBy(t),
    ...s,
    abort: t.controller,
    fromAbort: true,
    within: s.within ?? PROMPT_MS,
  } as Scenario<P>;
}

/**
 * Abort while connecting (a slow connector that ignores the signal): an
 * AbortedError at once, and the socket that arrives late is closed.
 */
export function connectAbort(
  protocol: Scenario["protocol"],
  server: Scenario["server"],
): Scenario {
  const t = trigger("connect");
  return aborting(t, {
    name:
      "abort while connecting: AbortedError at once, the late socket closed",
    protocol,
    covers: "abort: connect",
    server,
    client: { connector: slowConnector(300) },
    act: (c) => {
      t.fireIn(50);
      return c.connect({ signal: t.controller.signal });
    },
    phase: "connect",
    check: async (err, ctx) => {
      assert.equal(err.cause, t.reason, "cause = the reason");
      await lateSocketClosed(ctx, 300);
    },
    received: "",
  });
}

/** Abort while a silent server keeps the client waiting for its greeting. */
export function greetingAbort(protocol: Scenario["protocol"]): Scenario {
  const t = trigger("greeting");
  return aborting(t, {
    name: "abort waiting for the greeting",
    protocol,
    covers: "abort: greeting",
    server: {
      script: async (peer) => {
        t.fireIn(50); // the client is reading the greeting by then
        await peer.waitClosed(3000);
      },
    },
    act: (c) => c.connect({ signal: t.controller.signal }),
    phase: "greeting",
    received: "",
  });
}
