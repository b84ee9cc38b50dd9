// Hostile cases every SMTP-family transport must survive: SMTP, LMTP over TCP and LMTP over a Unix socket.

import assert from "node:assert/strict";
import { ConnectError, ProtocolError, TimeoutError } from "../../errors.ts";
import {
  SmtpConnectError,
  SmtpHeloError,
  SmtpOutcomeUnknownError,
  SmtpRecipientsRefusedError,
  SmtpSenderRefusedError,
  SmtpServerDisconnectedError,
  SmtpServiceClosingError,
} from "../../smtp/errors.ts";
import type { SmtpClient } from "../../smtp/client.ts";
import { type Protocol, type Scenario, sleep } from "../fakes/hostile_kit.ts";

/** The SMTP-family transports. */
export type SmtpFamily = Exclude<Protocol, "pop3">;

/** A small message; `BODY-MARK` must never reach a server after a refusal. */
export const MSG = "Subject: hi\r\n\r\nBODY-MARK\r\n";

/** `EHLO localhost` or `LHLO localhost`. */
export function hello(p: SmtpFamily): string {
  return `${p === "smtp" ? "EHLO" : "LHLO"} localhost\r\n`;
}

/** The phase name of the hello step. */
export function helloPhase(p: SmtpFamily): string {
  return p === "smtp" ? "ehlo" : "lhlo";
}

function send(c: SmtpClient, to: string[] = ["b@x.test"]) {
  return c.sendMail({ from: "a@x.test", to, data: MSG });
}

/** A greeting dripped one byte at a time. */
async function drip(peer: import("../fakes/scripted.ts").FakePeer) {
  for (const ch of "220 a very slow greeting indeed\r\n") {
    if (peer.ended) return;
    await peer.write(ch);
    await sleep(100);
  }
}

/** The cases for transport `p`. */
export function transportCases(p: SmtpFamily): Scenario<SmtpFamily>[] {
  const ehlo = hello(p);
  const greetingHint = p === "lmtp-unix" ? "" : "the server sent no greeting";
  const malformed: Array<[string, string]> = [
    ["mixed codes in one reply", "220-hello\r\n250 world\r\n"],
    ["code 099", "099 hello\r\n"],
    ["code 600", "600 hello\r\n"],
    ["code 2x0", "2x0 hello\r\n"],
    ["no separator after the code", "220hello\r\n"],
  ];
  const endless = { sent: 0 };
  const continuation = { lines: 0 };
  const cases: Scenario<SmtpFamily>[] = [
    {
      name: "a silent server (no greeting): TimeoutError at the deadline",
      protocol: p,
      covers: "server sends nothing (greeting timeout)",
      server: { script: (peer) => peer.waitClosed(3000).then(() => {}) },
      client: { timeout: 300 },
      act: (c) => c.connect(),
      error: TimeoutError,
      phase: "greeting",
      check: (err) => {
        assert.equal((err as TimeoutError).timeout, 300);
        if (greetingHint) assert.match(err.message, /sent no greeting/);
      },
      within: 1300,
      atLeast: 250,
      received: "",
    },
    {
      name:
        "a greeting dripping one byte per 100 ms: the whole-call deadline fires",
      protocol: p,
      covers: "a reply that drips (total deadline, not per read)",
      server: { script: drip },
      client: { timeout: 500 },
      act: (c) => c.connect(),
      error: TimeoutError,
      phase: "greeting",
      within: 1500,
      atLeast: 450,
      received: "",
    },
    {
      name: "an endless greeting line (no LF): ProtocolError at the line cap",
      protocol: p,
      covers: "an endless line",
      server: {
        script: async (peer) => {
          await peer.write("220 ");
          const block = "x".repeat(1024);
          for (let i = 0; i < 10_000 && !peer.ended; i++) {
            await peer.write(block);
            endless.sent++;
            await sleep(1);
          }
        },
      },
      act: (c) => c.connect(),
      error: ProtocolError,
      phase: "greeting",
      check: () => assert.ok(endless.sent < 1000, `read ${endless.sent} KiB`),
      within: 1500,
      received: "",
    },
    {
      name:
        "10^6 continuation lines in the greeting: ProtocolError at the line-count cap",
      protocol: p,
      covers: "10^6 continuation lines",
      server: {
        script: async (peer) => {
          const batch = "220-line of a very long greeting\r\n".repeat(1000);
          for (let i = 0; i < 1000 && !peer.ended; i++) {
            await peer.write(batch);
            continuation.lines += 1000;
            await sleep(1);
          }
          if (!peer.ended) await peer.write("220 end\r\n");
        },
      },
      client: { timeout: 3000 },
      act: (c) => c.connect(),
      error: ProtocolError,
      phase: "greeting",
      check: (err) => {
        assert.match(err.message, /lines|reply/);
        assert.ok(
          continuation.lines < 1_000_000,
          `stopped reading (${continuation.lines} lines written)`,
        );
      },
      within: 3000,
      received: "",
    },
    ...malformed.map(([what, greeting]): Scenario<SmtpFamily> => ({
      name: `greeting with ${what}: ProtocolError, nothing sent`,
      protocol: p,
      covers: "reply code 099 / 600 / 2x0, mixed codes",
      server: { smtp: { greeting } },
      act: (c) => c.connect(),
      error: ProtocolError,
      phase: "greeting",
      within: 1000,
      received: "",
    })),
    {
      name: "greeting 421: SmtpServiceClosingError, nothing sent",
      protocol: p,
      covers: "421 at any point",
      server: { smtp: { greeting: "421 4.3.2 too busy\r\n" } },
      act: (c) => c.connect(),
      error: SmtpServiceClosingError,
      phase: "greeting",
      check: (err) => assert.equal((err as SmtpServiceClosingError).code, 421),
      within: 1000,
      received: "",
    },
    {
      name: "greeting 554: SmtpConnectError and a polite QUIT",
      protocol: p,
      covers: "554 greeting = refuse, QUIT politely",
      server: {
        script: async (peer) => {
          await peer.write("554 5.7.1 go away\r\n");
          if (await peer.readLine(2000) === "QUIT") {
            await peer.write("221 bye\r\n");
          }
          peer.end();
        },
      },
      act: (c) => c.connect(),
      error: SmtpConnectError,
      phase: "greeting",
      check: (err) => {
        assert.equal((err as SmtpConnectError).code, 554);
        assert.equal((err as SmtpConnectError).enhancedCode, "5.7.1");
      },
      within: 1000,
      received: "QUIT\r\n",
    },
    {
      name: "a close right after accepting: SmtpServerDisconnectedError",
      protocol: p,
      covers: "fewer replies than commands, then close",
      server: { script: (peer) => Promise.resolve(peer.end()) },
      act: (c) => c.connect(),
      error: SmtpServerDisconnectedError,
      phase: "greeting",
      within: 1000,
      received: "",
    },
    {
      name: "a POP3 server on the SMTP port: ProtocolError with the hint",
      protocol: p,
      covers: "wrong-protocol hint",
      server: { smtp: { greeting: "+OK POP3 ready\r\n" } },
      act: (c) => c.connect(),
      error: ProtocolError,
      phase: "greeting",
      check: (err) => assert.match(err.message, /pop3 server; use Pop3Client/),
      within: 1000,
      received: "",
    },
    {
      name: `no reply to ${
        ehlo.slice(0, 4)
      }: TimeoutError within connectTimeout`,
      protocol: p,
      covers: "server sends nothing (a command's reply)",
      server: { smtp: { hook: (l) => /^[EL]HLO/.test(l) ? null : undefined } },
      client: { timeout: 5000, connectTimeout: 400 },
      act: (c) => c.connect(),
      error: TimeoutError,
      phase: helloPhase(p),
      check: (err) => assert.equal((err as TimeoutError).timeout, 400),
      within: 1400,
      atLeast: 350,
      received: ehlo,
    },
    {
      name: `${ehlo.slice(0, 4)} refused${
        p === "smtp" ? " and HELO too" : " (no HELO fallback)"
      }: SmtpHeloError, closed`,
      protocol: p,
      covers: "EHLO 5xx, HELO fallback (SMTP only)",
      server: {
        smtp: {
          hook: (l) => /^(EHLO|LHLO|HELO)/.test(l) ? "550 no\r\n" : undefined,
        },
      },
      act: (c) => c.connect(),
      error: SmtpHeloError,
      phase: p === "smtp" ? "helo" : "lhlo",
      within: 1000,
      received: p === "smtp" ? `${ehlo}HELO localhost\r\n` : ehlo,
    },
    {
      name: "a malformed reply to NOOP (2x0): ProtocolError, closed",
      protocol: p,
      covers: "reply code 2x0",
      server: {
        smtp: { hook: (l) => l === "NOOP" ? "2x0 ok\r\n" : undefined },
      },
      connected: true,
      act: (c) => c.noop(),
      error: ProtocolError,
      phase: "noop",
      within: 1000,
      received: `${ehlo}NOOP\r\n`,
    },
    {
      name: "mixed codes in a reply to NOOP: ProtocolError, closed",
      protocol: p,
      covers: "mixed codes in one multi-line reply",
      server: {
        smtp: { hook: (l) => l === "NOOP" ? "250-a\r\n251 b\r\n" : undefined },
      },
      connected: true,
      act: (c) => c.noop(),
      error: ProtocolError,
      phase: "noop",
      within: 1000,
      received: `${ehlo}NOOP\r\n`,
    },
    {
      name:
        "a reply to NOOP dripping within its deadline still times out as a whole",
      protocol: p,
      covers: "a reply that drips (total deadline, not per read)",
      server: {
        smtp: {
          hook: async (line, ctx) => {
            if (line !== "NOOP") return undefined;
            for (const ch of "250 ok dripping slowly\r\n") {
              if (ctx.peer.ended) break;
              await ctx.peer.write(ch);
              await sleep(60);
            }
            return null;
          },
        },
      },
      connected: true,
      act: (c) => c.noop({ timeout: 400 }),
      error: TimeoutError,
      phase: "noop",
      within: 1400,
      atLeast: 350,
      received: `${ehlo}NOOP\r\n`,
    },
    {
      name: "421 to NOOP: SmtpServiceClosingError, closed, no QUIT",
      protocol: p,
      covers: "421 at any point",
      server: {
        smtp: { hook: (l) => l === "NOOP" ? "421 bye\r\n" : undefined },
      },
      connected: true,
      act: async (c) => {
        try {
          await c.noop();
        } finally {
          await c.quit(); // nothing to send: already closed
        }
      },
      error: SmtpServiceClosingError,
      phase: "noop",
      within: 1000,
      received: `${ehlo}NOOP\r\n`,
    },
    {
      name:
        "a reply nobody asked for (two to one NOOP): ProtocolError before the next command goes out",
      protocol: p,
      covers: "more replies than commands",
      server: {
        smtp: {
          hook: (l) =>
            l === "NOOP" ? "250 ok\r\n250 extra reply\r\n" : undefined,
        },
      },
      connected: true,
      act: async (c) => {
        assert.equal((await c.noop()).code, 250);
        await c.rset();
      },
      error: ProtocolError,
      phase: "rset",
      check: (err) => assert.match(err.message, /nobody asked for/),
      within: 1000,
      received: `${ehlo}NOOP\r\n`,
    },
    {
      name:
        "the server resets the connection after MAIL: SmtpServerDisconnectedError, no body",
      protocol: p,
      covers: "fewer replies than commands, then close",
      server: {
        smtp: {
          features: [],
          hook: (l) => l.startsWith("MAIL") ? "destroy" : undefined,
        },
      },
      connected: true,
      act: (c) => send(c),
      error: SmtpServerDisconnectedError,
      phase: "mail",
      within: 1000,
      received: `${ehlo}MAIL FROM:<a@x.test>\r\n`,
    },
    {
      name:
        "every RCPT refused, then a hang-up instead of the DATA reply: SmtpRecipientsRefusedError with the replies, no body",
      protocol: p,
      covers: "issue 8 #4 (DATA)",
      server: {
        smtp: {
          hook: (l) => {
            if (l.startsWith("RCPT")) return "550 5.1.1 no such user\r\n";
            if (l === "DATA") return "close";
          },
        },
      },
      connected: true,
      act: (c) => send(c, ["b@x.test", "c@x.test"]),
      error: SmtpRecipientsRefusedError,
      phase: "rcpt", // the refusal names its step, not where the hang-up came
      check: (err) => {
        const r = (err as SmtpRecipientsRefusedError).recipients;
        assert.deepEqual([...r.keys()], ["b@x.test", "c@x.test"]);
        assert.equal(r.get("c@x.test")?.code, 550);
        assert.equal(r.get("c@x.test")?.enhancedCode, "5.1.1");
      },
      within: 1000,
      received: `${ehlo}MAIL FROM:<a@x.test>\r\nRCPT TO:<b@x.test>\r\n` +
        "RCPT TO:<c@x.test>\r\nDATA\r\n",
    },
    {
      name:
        "MAIL refused, then a hang-up instead of the DATA reply: SmtpSenderRefusedError, no body",
      protocol: p,
      covers: "issue 8 #4 (sender)",
      server: {
        smtp: {
          hook: (l) => {
            if (l.startsWith("MAIL")) return "553 5.7.1 sender rejected\r\n";
            if (l.startsWith("RCPT")) return "503 5.5.1 need MAIL\r\n";
            if (l === "DATA") return "close";
          },
        },
      },
      connected: true,
      act: (c) => send(c),
      error: SmtpSenderRefusedError,
      phase: "mail", // the refusal names its step, not where the hang-up came
      check: (err) => {
        const e = err as SmtpSenderRefusedError;
        assert.equal(e.code, 553);
        assert.equal(e.sender, "a@x.test");
      },
      within: 1000,
      received: `${ehlo}MAIL FROM:<a@x.test>\r\nRCPT TO:<b@x.test>\r\nDATA\r\n`,
    },
    {
      name: "421 to a RCPT mid-batch: SmtpServiceClosingError, closed, no body",
      protocol: p,
      covers: "421 in the middle of a pipelined batch",
      server: {
        smtp: {
          hook: (line, ctx) => {
            if (line !== "RCPT TO:<c@x.test>") return undefined;
            void ctx.peer.write("421 4.3.2 shutting down\r\n").then(() =>
              ctx.peer.end()
            );
            return null;
          },
        },
      },
      connected: true,
      act: (c) => send(c, ["b@x.test", "c@x.test", "d@x.test"]),
      error: SmtpServiceClosingError,
      phase: "rcpt",
      within: 1000,
      received: `${ehlo}MAIL FROM:<a@x.test>\r\nRCPT TO:<b@x.test>\r\n` +
        "RCPT TO:<c@x.test>\r\nRCPT TO:<d@x.test>\r\nDATA\r\n",
    },
    {
      name: "a close right after the final dot: SmtpOutcomeUnknownError",
      protocol: p,
      covers: "a close right after the final dot (outcome unknown)",
      server: {
        smtp: {
          lmtp: p !== "smtp",
          hook: (l) => l === "." ? "close" : undefined,
        },
      },
      connected: true,
      act: (c) => send(c),
      error: SmtpOutcomeUnknownError,
      phase: "data reply",
      check: (err) => {
        const e = err as SmtpOutcomeUnknownError;
        assert.ok(e.cause instanceof SmtpServerDisconnectedError);
        assert.deepEqual(e.recipients, p === "smtp" ? [] : ["b@x.test"]);
      },
      within: 1000,
      received: `${ehlo}MAIL FROM:<a@x.test>\r\nRCPT TO:<b@x.test>\r\n` +
        `DATA\r\n${MSG}.\r\n`,
    },
    {
      name:
        "no reply after the final dot: SmtpOutcomeUnknownError caused by the TimeoutError",
      protocol: p,
      covers: "outcome unknown after the data",
      server: {
        smtp: { lmtp: p !== "smtp", hook: (l) => l === "." ? null : undefined },
      },
      connected: true,
      act: (c) =>
        c.sendMail({
          from: "a@x.test",
          to: "b@x.test",
          data: MSG,
          timeout: 400,
        }),
      error: SmtpOutcomeUnknownError,
      phase: "data reply",
      check: (err) => assert.ok(err.cause instanceof TimeoutError),
      within: 1400,
      atLeast: 350,
      received: `${ehlo}MAIL FROM:<a@x.test>\r\nRCPT TO:<b@x.test>\r\n` +
        `DATA\r\n${MSG}.\r\n`,
    },
    {
      name:
        "a garbled reply after the final dot: SmtpOutcomeUnknownError caused by the ProtocolError",
      protocol: p,
      covers: "outcome unknown after the data",
      server: {
        smtp: {
          lmtp: p !== "smtp",
          hook: (l) => l === "." ? "2x0 what\r\n" : undefined,
        },
      },
      connected: true,
      act: (c) => send(c),
      error: SmtpOutcomeUnknownError,
      phase: "data reply",
      check: (err) => assert.ok(err.cause instanceof ProtocolError),
      within: 1000,
      received: `${ehlo}MAIL FROM:<a@x.test>\r\nRCPT TO:<b@x.test>\r\n` +
        `DATA\r\n${MSG}.\r\n`,
    },
  ];
  return cases;
}

/** A connection refused (TCP: a port nothing listens on). */
export function refusedCase(p: "smtp" | "lmtp-tcp"): Scenario<SmtpFamily> {
  return {
    name: "connection refused: ConnectError, quickly",
    protocol: p,
    covers: "connect failure",
    server: "none",
    act: (c) => c.connect(),
    error: ConnectError,
    phase: "connect",
    within: 1000,
    received: "",
    noConnection: true,
  };
}
