// Hostile options against a silent server: refused at construction or at the call, never a hang, never a socket (issue 8 #7, #8, #9).

import { InvalidInputError } from "../../errors.ts";
import type { Protocol, Scenario } from "../fakes/hostile_kit.ts";

/** A server that accepts and says nothing: a call without a deadline would hang on it. */
const silent = {
  script: (peer: import("../fakes/scripted.ts").FakePeer) =>
    peer.waitClosed(3000).then(() => {}),
};

/** The option cases for `p` (a TCP transport). */
export function optionCases(p: "smtp" | "pop3"): Scenario<Protocol>[] {
  const construction: Array<
    [
      string,
      Record<string, unknown>,
      ErrorConstructor | typeof InvalidInputError,
      string,
    ]
  > = [
    ["timeout: NaN", { timeout: Number.NaN }, TypeError, "issue 8 #7"],
    ["timeout: -1", { timeout: -1 }, RangeError, "issue 8 #7"],
    [
      'timeout: "5000" (a string)',
      { timeout: "5000" },
      TypeError,
      "issue 8 #7",
    ],
    ["connectTimeout: 0", { connectTimeout: 0 }, RangeError, "issue 8 #7"],
    ["port: 70000", { port: 70000 }, RangeError, "issue 8 #8"],
    [
      "a NUL in the hostname",
      { hostname: "127.0.0.1\0.evil" },
      InvalidInputError,
      "issue 8 #9",
    ],
    [
      "a CRLF in the hostname",
      { hostname: "localhost\r\nQUIT" },
      InvalidInputError,
      "issue 8 #9",
    ],
  ];
  const perCall: Array<[string, Record<string, unknown>, ErrorConstructor]> = [
    ["timeout: NaN", { timeout: Number.NaN }, TypeError],
    ["timeout: -5", { timeout: -5 }, RangeError],
    ['timeout: "5000"', { timeout: "5000" }, TypeError],
  ];
  return [
    ...construction.map(([what, bad, error, covers]): Scenario<Protocol> => ({
      name: `${what} at construction: ${error.name}, no socket opened`,
      protocol: p,
      covers,
      server: silent,
      act: async (_c, ctx) => {
        await Promise.resolve();
        ctx.create(bad as never);
      },
      error,
      phase: undefined,
      within: 100,
      received: "",
      noConnection: true,
    })),
    ...perCall.map(([what, bad, error]): Scenario<Protocol> => ({
      name:
        `connect({ ${what} }) to a silent server: ${error.name} at once, no socket opened`,
      protocol: p,
      covers: "issue 8 #7 (per call)",
      server: silent,
      act: (c) => c.connect(bad as never),
      error,
      phase: undefined,
      within: 100,
      received: "",
      noConnection: true,
    })),
  ];
}
