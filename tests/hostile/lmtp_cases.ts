// Hostile cases of LMTP's own: one reply per recipient after the data (RFC 2033), LHLO only, TCP and Unix sockets.

import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { writeFileSync } from "node:fs";
import {
  ConnectError,
  InvalidInputError,
  ProtocolError,
  TimeoutError,
} from "../../errors.ts";
import {
  SmtpNotSupportedError,
  SmtpOutcomeUnknownError,
  SmtpRecipientsRefusedError,
  SmtpServerDisconnectedError,
} from "../../smtp/errors.ts";
import type { LmtpClient } from "../../smtp/lmtp.ts";
import type { Scenario } from "../fakes/hostile_kit.ts";
import { hello, MSG, type SmtpFamily } from "./transport_cases.ts";

type Lmtp = "lmtp-tcp" | "lmtp-unix";

const TO = ["b@x.test", "c@x.test", "d@x.test"];

function envelope(p: Lmtp, to = TO): string {
  return hello(p) + "MAIL FROM:<a@x.test>\r\n" +
    to.map((t) => `RCPT TO:<${t}>\r\n`).join("");
}

/** LMTP's own cases over transport `p`. */
export function lmtpCases(p: Lmtp): Scenario<SmtpFamily>[] {
  const send = (c: { sendMail: LmtpClient["sendMail"] }, timeout?: number) =>
    c.sendMail({ from: "a@x.test", to: TO, data: MSG, timeout });
  const afterData = envelope(p) + `DATA\r\n${MSG}.\r\n`;
  const cases: Scenario<SmtpFamily>[] = [
    {
      name:
        "no reply at all after the data: SmtpOutcomeUnknownError naming every recipient",
      protocol: p,
      covers: "issue 8 #3 (outcome unknown per recipient)",
      server: {
        smtp: { lmtp: true, hook: (l) => l === "." ? "close" : undefined },
      },
      connected: true,
      act: (c) => send(c),
      error: SmtpOutcomeUnknownError,
      phase: "data reply",
      check: (err) => {
        const e = err as SmtpOutcomeUnknownError;
        assert.deepEqual(e.recipients, TO);
        assert.equal(e.refused.size, 0);
      },
      within: 1000,
      received: afterData,
    },
    {
      name:
        "421 as the first per-recipient reply: the rest unknown, the 421 reported as a refusal",
      protocol: p,
      covers: "issue 8 #3 (421 between per-recipient replies)",
      server: {
        smtp: {
          lmtp: true,
          hook: (l) => l === "." ? "421 4.3.2 shutting down\r\n" : undefined,
        },
      },
      connected: true,
      act: (c) => send(c),
      error: SmtpOutcomeUnknownError,
      phase: "data reply",
      check: (err) => {
        const e = err as SmtpOutcomeUnknownError;
        assert.deepEqual(e.recipients, ["c@x.test", "d@x.test"]);
        assert.deepEqual([...e.refused.keys()], ["b@x.test"]);
        assert.equal(e.refused.get("b@x.test")?.code, 421);
      },
      within: 1000,
      received: afterData,
    },
    {
      name:
        "a 550 then a hang-up between per-recipient replies: refused and unknown, never one error",
      protocol: p,
      covers: "issue 8 #3 (disconnect between per-recipient replies)",
      server: {
        smtp: {
          lmtp: true,
          hook: (l, ctx) => {
            if (l !== ".") return undefined;
            void ctx.peer.write("550 5.2.2 mailbox full\r\n").then(() =>
              ctx.peer.end()
            );
            return null;
          },
        },
      },
      connected: true,
      act: (c) => send(c),
      error: SmtpOutcomeUnknownError,
      phase: "data reply",
      check: (err) => {
        const e = err as SmtpOutcomeUnknownError;
        assert.deepEqual(e.recipients, ["c@x.test", "d@x.test"]);
        assert.equal(e.refused.get("b@x.test")?.code, 550);
        assert.ok(e.cause instanceof SmtpServerDisconnectedError);
      },
      within: 1000,
      received: afterData,
    },
    {
      name:
        "every per-recipient reply refuses: SmtpRecipientsRefusedError with each reply",
      protocol: p,
      covers: "results never hide a delivery (none here)",
      server: {
        smtp: {
          lmtp: true,
          hook: (l) =>
            l === "."
              ? TO.map((_, i) => `55${i} 5.0.${i} no\r\n`).join("")
              : undefined,
        },
      },
      connected: true,
      act: (c) => send(c),
      error: SmtpRecipientsRefusedError,
      phase: "data reply",
      check: (err) => {
        const r = (err as SmtpRecipientsRefusedError).recipients;
        assert.deepEqual([...r.keys()], TO);
        assert.deepEqual([...r.values()].map((x) => x.code), [550, 551, 552]);
      },
      within: 1000,
      received: afterData,
      staysOpen: true,
    },
    {
      name:
        "a garbled first per-recipient reply: SmtpOutcomeUnknownError for all, caused by the ProtocolError",
      protocol: p,
      covers: "reply code 2x0 after the data",
      server: {
        smtp: { lmtp: true, hook: (l) => l === "." ? "2x0 ?\r\n" : undefined },
      },
      connected: true,
      act: (c) => send(c),
      error: SmtpOutcomeUnknownError,
      phase: "data reply",
      check: (err) => {
        assert.ok(err.cause instanceof ProtocolError);
        assert.deepEqual((err as SmtpOutcomeUnknownError).recipients, TO);
      },
      within: 1000,
      received: afterData,
    },
    {
      name:
        "silence after the first of three per-recipient replies: the deadline fires, the rest unknown",
      protocol: p,
      covers: "issue 8 #3 (timeout between per-recipient replies)",
      server: {
        smtp: {
          lmtp: true,
          hook: (l) => l === "." ? "452 4.2.2 over quota\r\n" : undefined,
        },
      },
      connected: true,
      act: (c) => send(c, 400),
      error: SmtpOutcomeUnknownError,
      phase: "data reply",
      check: (err) => {
        const e = err as SmtpOutcomeUnknownError;
        assert.ok(e.cause instanceof TimeoutError);
        assert.deepEqual(e.recipients, ["c@x.test", "d@x.test"]);
        assert.equal(e.refused.get("b@x.test")?.code, 452);
      },
      within: 1400,
      atLeast: 350,
      received: afterData,
    },
    {
      name:
        "CHUNKING: a close after BDAT LAST: SmtpOutcomeUnknownError naming every recipient",
      protocol: p,
      covers: "a close right after the last chunk (outcome unknown)",
      server: {
        smtp: {
          lmtp: true,
          features: ["PIPELINING", "CHUNKING"],
          hook: (l) => l.startsWith("BDAT") ? "close" : undefined,
        },
      },
      connected: true,
      act: (c) => send(c),
      error: SmtpOutcomeUnknownError,
      phase: "data reply",
      check: (err) =>
        assert.deepEqual((err as SmtpOutcomeUnknownError).recipients, TO),
      within: 1000,
      received: envelope(p) + `BDAT ${Buffer.byteLength(MSG)} LAST\r\n${MSG}`,
    },
    {
      name: "data() by hand, a close after the dot: SmtpOutcomeUnknownError",
      protocol: p,
      covers: "a close right after the final dot (outcome unknown)",
      server: {
        smtp: { lmtp: true, hook: (l) => l === "." ? "close" : undefined },
      },
      connected: true,
      act: async (c) => {
        await c.mail("a@x.test");
        await c.rcpt("b@x.test");
        await c.rcpt("c@x.test");
        await c.data(MSG);
      },
      error: SmtpOutcomeUnknownError,
      phase: "data reply",
      within: 1000,
      received: envelope(p, ["b@x.test", "c@x.test"]) + `DATA\r\n${MSG}.\r\n`,
    },
    {
      name: "helo() on LMTP: SmtpNotSupportedError, nothing sent",
      protocol: p,
      covers: "LMTP has LHLO only (RFC 2033)",
      server: { smtp: { lmtp: true } },
      connected: true,
      act: (c) => c.helo(),
      error: SmtpNotSupportedError,
      phase: "helo",
      within: 500,
      received: hello(p),
      staysOpen: true,
    },
  ];
  if (p === "lmtp-unix") {
    cases.push(
      {
        name: "a socket path nothing listens on: ConnectError",
        protocol: p,
        covers: "connect failure (Unix socket)",
        server: "none",
        act: (c) => c.connect(),
        error: ConnectError,
        phase: "connect",
        within: 1000,
        received: "",
        noConnection: true,
      },
      {
        name: "a socket path that is a regular file: ConnectError",
        protocol: p,
        covers: "connect failure (Unix socket)",
        server: "none",
        act: (c, ctx) => {
          writeFileSync(ctx.options().path!, "not a socket");
          return c.connect();
        },
        error: ConnectError,
        phase: "connect",
        within: 1000,
        received: "",
        noConnection: true,
      },
      {
        name:
          "a NUL in the socket path: InvalidInputError at construction (Bun would truncate it)",
        protocol: p,
        covers: "issue 8 #9",
        server: { smtp: { lmtp: true } },
        act: async (_c, ctx) => {
          await Promise.resolve();
          ctx.create({ path: `${ctx.server?.path}\0.evil` });
        },
        error: InvalidInputError,
        phase: undefined,
        within: 100,
        received: "",
        noConnection: true,
      },
    );
  }
  return cases;
}
