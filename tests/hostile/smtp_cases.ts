// Hostile cases of SMTP transactions and input: refusals, outcome unknown, servers that stop reading, unsafe arguments, bad options.

import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import {
  InvalidInputError,
  ProtocolError,
  TimeoutError,
} from "../../errors.ts";
import {
  SmtpDataError,
  SmtpNotSupportedError,
  SmtpOutcomeUnknownError,
  SmtpRecipientsRefusedError,
  SmtpSenderRefusedError,
  SmtpServerDisconnectedError,
} from "../../smtp/errors.ts";
import type { SmtpClient } from "../../smtp/client.ts";
import type { Scenario } from "../fakes/hostile_kit.ts";
import { MSG } from "./transport_cases.ts";

const enc = new TextEncoder();
const EHLO = "EHLO localhost\r\n";
const ENVELOPE = `${EHLO}MAIL FROM:<a@x.test>\r\nRCPT TO:<b@x.test>\r\n`;
const BDAT = `BDAT ${Buffer.byteLength(MSG)} LAST\r\n`;
const CHUNKING = ["PIPELINING", "CHUNKING"];

function send(c: SmtpClient, to: string[] = ["b@x.test"]) {
  return c.sendMail({ from: "a@x.test", to, data: MSG });
}

/** 32 MiB of lines. */
function bigBody(): Uint8Array {
  const body = new Uint8Array(32 << 20).fill(0x61);
  for (let i = 1000; i < body.length; i += 1000) body[i] = 10;
  return body;
}

/**
 * A fake that stops reading once it answered DATA with 354, and reads
 * again (so it can see the close) only after 1.5 s, long after the client
 * gave up.
 */
const pausesAfterData = {
  smtp: {
    hook: (l: string, ctx: { peer: { socket: unknown } }) => {
      if (l !== "DATA") return undefined;
      const socket = ctx.peer.socket as { pause(): void; resume(): void };
      socket.pause();
      setTimeout(() => socket.resume(), 1500);
      return "354 go ahead\r\n";
    },
  },
};

/** Cases where the client must refuse its caller's input before a byte is sent. */
const refusedInput: Array<
  [string, string, (c: SmtpClient) => Promise<unknown>]
> = [
  [
    "a CR in the sender",
    "mail",
    (c) => c.sendMail({ from: "a\r@x.test", to: "b@x.test", data: MSG }),
  ],
  [
    "an LF in the second recipient",
    "mail",
    (c) =>
      c.sendMail({
        from: "a@x.test",
        to: ["b@x.test", "c\n@x.test"],
        data: MSG,
      }),
  ],
  ["a NUL in a MAIL parameter", "mail", (c) =>
    c.sendMail({
      from: "a@x.test",
      to: "b@x.test",
      data: MSG,
      mailOptions: { params: ["X=1\0RCPT TO:<evil@x.test>"] },
    })],
  ["a CRLF in a RCPT parameter", "mail", (c) =>
    c.sendMail({
      from: "a@x.test",
      to: { address: "b@x.test", params: ["X=1\r\nDATA"] },
      data: MSG,
    })],
  ["an LF in mail()'s address", "mail", (c) => c.mail("a@x.test\nRSET")],
  ["a CR in rcpt()'s address", "rcpt", (c) => c.rcpt("b@x.test\r")],
  ["a CRLF in command()", "command", (c) => c.command("NOOP\r\nQUIT")],
  ["a NUL in verify()", "vrfy", (c) => c.verify("a\0b")],
  ["an LF in the EHLO name", "ehlo", (c) => c.ehlo("me\nMAIL FROM:<x>")],
  [
    "a '>' and parameters smuggled in an address",
    "mail",
    (c) =>
      c.sendMail({ from: "a@x.test> NOTIFY=NEVER", to: "b@x.test", data: MSG }),
  ],
  ["STARTTLS through command()", "command", (c) => c.command("STARTTLS")],
  [
    "a sendMessage header address with an LF",
    "mail",
    (c) => c.sendMessage("From: a@x.test\r\n\r\nx", { to: ["b\n@x.test"] }),
  ],
];

export const smtpCases: Scenario<"smtp">[] = [
  {
    name:
      "an unsolicited reply right after the greeting: ProtocolError before EHLO goes out",
    protocol: "smtp",
    covers: "more replies than commands (a reply nobody asked for)",
    server: { smtp: { greeting: "220 hi\r\n250 unsolicited\r\n" } },
    act: (c) => c.connect(),
    error: ProtocolError,
    phase: "ehlo",
    check: (err) => assert.match(err.message, /nobody asked for/),
    within: 1000,
    received: "",
  },
  {
    name: "a reply exceeding maxReplyLines: ProtocolError",
    protocol: "smtp",
    covers: "reply caps (lines)",
    server: {
      smtp: {
        hook: (l) =>
          l === "NOOP" ? "250-x\r\n".repeat(50) + "250 end\r\n" : undefined,
      },
    },
    client: { maxReplyLines: 20 },
    connected: true,
    act: (c) => c.noop(),
    error: ProtocolError,
    phase: "noop",
    within: 1000,
    received: `${EHLO}NOOP\r\n`,
  },
  {
    name: "a reply exceeding maxReplyBytes: ProtocolError",
    protocol: "smtp",
    covers: "reply caps (bytes)",
    server: {
      smtp: {
        hook: (l) =>
          l === "NOOP"
            ? `250-${"y".repeat(4000)}\r\n`.repeat(5) + "250 end\r\n"
            : undefined,
      },
    },
    client: { maxReplyBytes: 8000 },
    connected: true,
    act: (c) => c.noop(),
    error: ProtocolError,
    phase: "noop",
    within: 1000,
    received: `${EHLO}NOOP\r\n`,
  },
  {
    name:
      "every RCPT refused, then a hang-up instead of the BDAT reply: SmtpRecipientsRefusedError",
    protocol: "smtp",
    covers: "issue 8 #4 (BDAT)",
    server: {
      smtp: {
        features: CHUNKING,
        hook: (l) => {
          if (l.startsWith("RCPT")) return "550 5.1.1 no such user\r\n";
          if (l.startsWith("BDAT")) return "close";
        },
      },
    },
    connected: true,
    act: (c) => send(c),
    error: SmtpRecipientsRefusedError,
    phase: "rcpt", // the refusal names its step, not where the hang-up came
    check: (err) => {
      const r = (err as SmtpRecipientsRefusedError).recipients;
      assert.equal(r.get("b@x.test")?.code, 550);
    },
    within: 1000,
    // A small message goes with its envelope in one write (one round trip).
    received: ENVELOPE + BDAT + MSG,
  },
  {
    name:
      "MAIL refused, then a hang-up instead of the BDAT reply: SmtpSenderRefusedError",
    protocol: "smtp",
    covers: "issue 8 #4 (BDAT, sender)",
    server: {
      smtp: {
        features: CHUNKING,
        hook: (l) => {
          if (l.startsWith("MAIL")) return "550 5.7.1 go away\r\n";
          if (l.startsWith("RCPT")) return "503 5.5.1 need MAIL\r\n";
          if (l.startsWith("BDAT")) return "close";
        },
      },
    },
    connected: true,
    act: (c) => send(c),
    error: SmtpSenderRefusedError,
    phase: "mail", // the refusal names its step, not where the hang-up came
    within: 1000,
    received: ENVELOPE + BDAT + MSG,
  },
  {
    name: "a large BDAT message with every RCPT refused: no chunk sent at all",
    protocol: "smtp",
    covers: "no body after a refusal",
    server: {
      smtp: {
        features: CHUNKING,
        hook: (l) => l.startsWith("RCPT") ? "550 no\r\n" : undefined,
      },
    },
    connected: true,
    act: (c) =>
      c.sendMail({
        from: "a@x.test",
        to: "b@x.test",
        data: new Uint8Array(2 << 20).fill(0x62),
      }),
    error: SmtpRecipientsRefusedError,
    phase: "rcpt",
    within: 1500,
    received: `${ENVELOPE}RSET\r\n`,
    staysOpen: true,
  },
  {
    name:
      "without PIPELINING, every RCPT refused: no DATA, RSET, the session goes on",
    protocol: "smtp",
    covers: "no body after a refusal",
    server: {
      smtp: {
        features: [],
        hook: (l) => l.startsWith("RCPT") ? "550 no\r\n" : undefined,
      },
    },
    connected: true,
    act: (c) => send(c, ["b@x.test", "c@x.test"]),
    error: SmtpRecipientsRefusedError,
    phase: "rcpt",
    within: 1000,
    received: `${ENVELOPE}RCPT TO:<c@x.test>\r\nRSET\r\n`,
    staysOpen: true,
  },
  {
    name:
      "DATA answered 554 with an accepted recipient: SmtpDataError, no body, RSET",
    protocol: "smtp",
    covers: "no body after a refusal",
    server: {
      smtp: {
        hook: (l) =>
          l === "DATA" ? "554 5.5.1 no valid recipients\r\n" : undefined,
      },
    },
    connected: true,
    act: (c) => send(c),
    error: SmtpDataError,
    phase: "data",
    within: 1000,
    received: `${ENVELOPE}DATA\r\nRSET\r\n`,
    staysOpen: true,
  },
  {
    name: "554 after the final dot: SmtpDataError, RSET, the session goes on",
    protocol: "smtp",
    covers: "a refusal after the data is not outcome-unknown",
    server: {
      smtp: { hook: (l) => l === "." ? "554 5.7.1 spam\r\n" : undefined },
    },
    connected: true,
    act: (c) => send(c),
    error: SmtpDataError,
    phase: "data reply",
    check: (err) => assert.equal((err as SmtpDataError).code, 554),
    within: 1000,
    received: `${ENVELOPE}DATA\r\n${MSG}.\r\nRSET\r\n`,
    staysOpen: true,
  },
  {
    name: "BDAT LAST then a close: SmtpOutcomeUnknownError",
    protocol: "smtp",
    covers: "a close right after the last chunk (outcome unknown)",
    server: {
      smtp: {
        features: CHUNKING,
        hook: (l) => l.startsWith("BDAT") ? "close" : undefined,
      },
    },
    connected: true,
    act: (c) => send(c),
    error: SmtpOutcomeUnknownError,
    phase: "data reply",
    within: 1000,
    received: ENVELOPE + BDAT + MSG,
  },
  {
    name:
      "a pipelined BDAT batch answered by a close (no reply at all): SmtpOutcomeUnknownError",
    protocol: "smtp",
    covers: "outcome unknown (replies buffered by a dying server)",
    server: {
      script: async (peer) => {
        await peer.write("220 fake\r\n");
        await peer.readLine();
        await peer.write("250-fake\r\n250-PIPELINING\r\n250 CHUNKING\r\n");
        await peer.waitFor(MSG);
        peer.end();
      },
    },
    connected: true,
    act: (c) => send(c),
    error: SmtpOutcomeUnknownError,
    phase: "mail",
    within: 1000,
    received: ENVELOPE + BDAT + MSG,
  },
  {
    name:
      "a large BDAT (envelope first), then a close after the chunk: SmtpOutcomeUnknownError",
    protocol: "smtp",
    covers: "a close right after the last chunk (outcome unknown)",
    server: {
      smtp: {
        features: CHUNKING,
        hook: (l) => l.startsWith("BDAT") ? "close" : undefined,
      },
    },
    connected: true,
    act: (c) =>
      c.sendMail({
        from: "a@x.test",
        to: "b@x.test",
        data: new Uint8Array(2 << 20).fill(0x62),
      }),
    error: SmtpOutcomeUnknownError,
    phase: "data reply",
    within: 2000,
    received: (text) => {
      const bdat = `BDAT ${(2 << 20) + 2} LAST\r\n`; // CRLF added at the end
      assert.ok(text.startsWith(ENVELOPE + bdat));
      assert.equal(text.length, ENVELOPE.length + bdat.length + (2 << 20) + 2);
    },
  },
  {
    name: "data() by hand, a close after the dot: SmtpOutcomeUnknownError",
    protocol: "smtp",
    covers: "a close right after the final dot (outcome unknown)",
    server: { smtp: { hook: (l) => l === "." ? "close" : undefined } },
    connected: true,
    act: async (c) => {
      await c.mail("a@x.test");
      await c.rcpt("b@x.test");
      await c.data(MSG);
    },
    error: SmtpOutcomeUnknownError,
    phase: "data reply",
    within: 1000,
    received: `${ENVELOPE}DATA\r\n${MSG}.\r\n`,
  },
  {
    name:
      "bdat(last) by hand, a close after the chunk: SmtpOutcomeUnknownError",
    protocol: "smtp",
    covers: "a close right after the last chunk (outcome unknown)",
    server: {
      smtp: {
        features: CHUNKING,
        hook: (l) => l.startsWith("BDAT") ? "close" : undefined,
      },
    },
    connected: true,
    act: async (c) => {
      await c.mail("a@x.test");
      await c.rcpt("b@x.test");
      await c.bdat(enc.encode(MSG), { last: true });
    },
    error: SmtpOutcomeUnknownError,
    phase: "data reply",
    within: 1000,
    received: ENVELOPE + BDAT + MSG,
  },
  {
    name:
      "a server that stops reading mid-DATA (32 MiB): TimeoutError within the bound",
    protocol: "smtp",
    covers: "a server that accepts then never reads (writes time out)",
    server: pausesAfterData,
    client: { timeout: 800 },
    connected: true,
    act: (c) =>
      c.sendMail({ from: "a@x.test", to: "b@x.test", data: bigBody() }),
    error: TimeoutError,
    phase: "data",
    within: 4000,
    atLeast: 700,
    received: (text) => assert.ok(!text.includes("\r\n.\r\n"), "no terminator"),
  },
  {
    name:
      "a server that stops reading a streamed body: TimeoutError, the stream not drained",
    protocol: "smtp",
    covers: "a server that accepts then never reads (no unbounded buffering)",
    server: pausesAfterData,
    client: { timeout: 800 },
    connected: true,
    act: async (c) => {
      let pulled = 0;
      const chunk = enc.encode(("b".repeat(1022) + "\r\n").repeat(1024));
      const stream = new ReadableStream<Uint8Array>({
        pull(ctl) {
          if (pulled++ < 64) ctl.enqueue(chunk);
          else ctl.close();
        },
      }, { highWaterMark: 0 });
      try {
        await c.sendMail({ from: "a@x.test", to: "b@x.test", data: stream });
      } finally {
        assert.ok(pulled < 64, `pulled ${pulled} MiB before giving up`);
      }
    },
    error: TimeoutError,
    phase: "data",
    within: 3000,
    atLeast: 700,
    received: (text) => assert.ok(!text.includes("\r\n.\r\n"), "no terminator"),
  },
  {
    name:
      "a reset in the middle of DATA: SmtpServerDisconnectedError, not outcome-unknown",
    protocol: "smtp",
    covers: "RST in the middle of DATA",
    server: {
      smtp: {
        hook: (l, ctx) => {
          if (l !== "DATA") return undefined;
          void ctx.peer.write("354 go\r\n").then(() =>
            ctx.peer.waitFor("aaaa", 3000)
          ).then(() => ctx.peer.destroy());
          return null;
        },
      },
    },
    connected: true,
    act: (c) =>
      c.sendMail({ from: "a@x.test", to: "b@x.test", data: bigBody() }),
    error: SmtpServerDisconnectedError,
    phase: "data",
    within: 3000,
    received: (text) => assert.ok(!text.includes("\r\n.\r\n"), "no terminator"),
  },
  {
    name: "a reset in the middle of a BDAT chunk: SmtpServerDisconnectedError",
    protocol: "smtp",
    covers: "RST in the middle of BDAT",
    server: {
      script: async (peer) => {
        await peer.write("220 fake\r\n");
        await peer.readLine();
        await peer.write("250-fake\r\n250-PIPELINING\r\n250 CHUNKING\r\n");
        await peer.readLine();
        await peer.readLine();
        await peer.write("250 ok\r\n250 ok\r\n");
        await peer.waitFor("BDAT");
        await peer.waitFor("aaaa");
        peer.destroy();
      },
    },
    connected: true,
    act: (c) =>
      c.sendMail({ from: "a@x.test", to: "b@x.test", data: bigBody() }),
    error: SmtpServerDisconnectedError,
    phase: "bdat",
    within: 3000,
    received: (text) => assert.ok(text.startsWith(ENVELOPE + "BDAT")),
  },
  {
    name: "354, then a close before the body: SmtpServerDisconnectedError",
    protocol: "smtp",
    covers: "half-closed sockets",
    server: {
      smtp: {
        features: [],
        hook: (l, ctx) => {
          if (l !== "DATA") return undefined;
          void ctx.peer.write("354 go\r\n").then(() => ctx.peer.destroy());
          return null;
        },
      },
    },
    connected: true,
    act: async (c) => {
      let first = true;
      const stream = new ReadableStream<Uint8Array>({
        async pull(ctl) {
          if (!first) return ctl.close();
          first = false;
          await new Promise((r) => setTimeout(r, 100));
          ctl.enqueue(enc.encode(MSG));
        },
      });
      await c.sendMail({ from: "a@x.test", to: "b@x.test", data: stream });
    },
    error: SmtpServerDisconnectedError,
    phase: "data",
    within: 1500,
    received: (text) => assert.ok(text.startsWith(`${ENVELOPE}DATA\r\n`)),
  },
  {
    name:
      "a body stream that fails mid-way: its error, closed, no end marker, nothing delivered",
    protocol: "smtp",
    covers: "never fold a partial message into a delivery",
    server: { smtp: {} },
    connected: true,
    act: (c) => {
      let n = 0;
      const stream = new ReadableStream<Uint8Array>({
        pull(ctl) {
          if (n++ === 0) {
            ctl.enqueue(enc.encode("Subject: x\r\n\r\npart one\r\n"));
          } else ctl.error(new RangeError("disk read failed"));
        },
      });
      return c.sendMail({ from: "a@x.test", to: "b@x.test", data: stream });
    },
    error: RangeError,
    phase: undefined,
    within: 1000,
    received: `${ENVELOPE}DATA\r\nSubject: x\r\n\r\npart one\r\n`,
  },
  ...refusedInput.map(([what, phase, call]): Scenario<"smtp"> => ({
    name: `${what}: InvalidInputError, zero bytes sent`,
    protocol: "smtp",
    covers: "CR/LF/NUL in any address or command",
    server: { smtp: { features: ["PIPELINING", "DSN"] } },
    connected: true,
    act: call,
    error: InvalidInputError,
    phase,
    within: 300,
    received: EHLO,
    staysOpen: true,
  })),
  {
    name:
      "a non-ASCII address to a server without SMTPUTF8: SmtpNotSupportedError before MAIL",
    protocol: "smtp",
    covers: "a non-ASCII address to a server without SMTPUTF8",
    server: { smtp: { features: ["PIPELINING", "8BITMIME"] } },
    connected: true,
    act: (c) =>
      c.sendMail({ from: "a@x.test", to: ["b@x.test", "ü@x.test"], data: MSG }),
    error: SmtpNotSupportedError,
    phase: "mail",
    within: 300,
    received: EHLO,
    staysOpen: true,
  },
  {
    name:
      "a non-ASCII address through rcpt() by hand without SMTPUTF8: refused before sending",
    protocol: "smtp",
    covers:
      "a non-ASCII address to a server without SMTPUTF8 (low-level calls)",
    server: { smtp: { features: ["PIPELINING"] } },
    connected: true,
    act: async (c) => {
      await c.mail("a@x.test");
      await c.rcpt("jörg@x.test");
    },
    error: SmtpNotSupportedError,
    phase: "rcpt",
    within: 500,
    received: `${EHLO}MAIL FROM:<a@x.test>\r\n`,
    staysOpen: true,
  },
  {
    name:
      "a message over the advertised SIZE: SmtpNotSupportedError before MAIL",
    protocol: "smtp",
    covers: "a 1 GiB message to a server with SIZE 1000000",
    server: { smtp: { features: ["PIPELINING", "SIZE 1000000"] } },
    connected: true,
    act: (c) =>
      c.sendMail({
        from: "a@x.test",
        to: "b@x.test",
        data: MSG,
        mailOptions: { size: 2 ** 30 },
      }),
    error: SmtpNotSupportedError,
    phase: "mail",
    within: 300,
    received: EHLO,
    staysOpen: true,
  },
  {
    name:
      "8-bit data to a server without 8BITMIME: SmtpNotSupportedError before MAIL",
    protocol: "smtp",
    covers: "no lossy body",
    server: { smtp: { features: ["PIPELINING"] } },
    connected: true,
    act: (c) =>
      c.sendMail({
        from: "a@x.test",
        to: "b@x.test",
        data: "Subject: ü\r\n\r\nÄpfel\r\n",
      }),
    error: SmtpNotSupportedError,
    phase: "mail",
    within: 300,
    received: EHLO,
    staysOpen: true,
  },
  {
    name:
      "DSN options to a server without DSN: SmtpNotSupportedError before MAIL",
    protocol: "smtp",
    covers: "no silent loss of an option",
    server: { smtp: { features: ["PIPELINING"] } },
    connected: true,
    act: (c) =>
      c.sendMail({
        from: "a@x.test",
        to: "b@x.test",
        data: MSG,
        mailOptions: { ret: "HDRS" },
      }),
    error: SmtpNotSupportedError,
    phase: "mail",
    within: 300,
    received: EHLO,
    staysOpen: true,
  },
  {
    name: "REQUIRETLS over clear text: refused before MAIL",
    protocol: "smtp",
    covers: "REQUIRETLS only under TLS (RFC 8689)",
    server: { smtp: { features: ["PIPELINING", "REQUIRETLS"] } },
    connected: true,
    act: (c) =>
      c.sendMail({
        from: "a@x.test",
        to: "b@x.test",
        data: MSG,
        mailOptions: { requireTls: true },
      }),
    error: SmtpNotSupportedError,
    phase: "mail",
    within: 300,
    received: EHLO,
    staysOpen: true,
  },
];
