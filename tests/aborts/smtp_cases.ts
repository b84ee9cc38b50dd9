// An AbortSignal fired at every phase of SMTP and LMTP: AbortedError (cause = the reason) within PROMPT_MS, closed, nothing leaked.

import { Buffer } from "node:buffer";
import { SmtpOutcomeUnknownError } from "../../smtp/errors.ts";
import type { SmtpClient } from "../../smtp/client.ts";
import { fixture } from "../fakes/scripted.ts";
import { b64, PASSWORD, type Scenario, USER } from "../fakes/hostile_kit.ts";
import {
  aborting,
  connectAbort,
  greetingAbort,
  trigger,
  unknownCausedBy,
} from "../fakes/abort_kit.ts";

const CA = [fixture("ca.pem")];
const MSG = "Subject: hi\r\n\r\nBODY-MARK\r\n";
const EHLO = "EHLO localhost\r\n";
const ENVELOPE = `${EHLO}MAIL FROM:<a@x.test>\r\nRCPT TO:<b@x.test>\r\n`;
const enc = new TextEncoder();

function send(
  c: SmtpClient,
  signal: AbortSignal,
  data: string | Uint8Array | ReadableStream<Uint8Array> = MSG,
) {
  return c.sendMail({ from: "a@x.test", to: "b@x.test", data, signal });
}

const ehlo = trigger("ehlo");
const handshake = trigger("tls");
const auth = trigger("auth");
const mail = trigger("mail");
const rcpt = trigger("rcpt");
const data = trigger("data");
const stream = trigger("data stream");
const bdat = trigger("bdat");
const finalReply = trigger("data reply");
const bdatReply = trigger("bdat reply");
const quit = trigger("quit");
const clientSignal = trigger("client signal");

export const smtpAbortCases: Scenario[] = [
  connectAbort("smtp", { smtp: {} }),
  greetingAbort("smtp"),
  aborting(ehlo, {
    name: "abort waiting for the EHLO reply",
    protocol: "smtp",
    covers: "abort: EHLO",
    server: {
      smtp: {
        hook: (l) => l.startsWith("EHLO") ? (ehlo.fire(), null) : undefined,
      },
    },
    act: (c) => c.connect({ signal: ehlo.controller.signal }),
    phase: "ehlo",
    received: EHLO,
  }),
  aborting(handshake, {
    name: "abort during the STARTTLS handshake",
    protocol: "smtp",
    covers: "abort: STARTTLS handshake",
    server: {
      script: async (peer) => {
        await peer.write("220 fake\r\n");
        await peer.readLine();
        await peer.write("250-fake\r\n250 STARTTLS\r\n");
        await peer.readLine();
        await peer.write("220 go ahead\r\n");
        handshake.fireIn(50); // the client is handshaking with a silent peer
        await peer.waitClosed(3000);
      },
    },
    client: { tls: "starttls", caCerts: CA },
    act: (c) => c.connect({ signal: handshake.controller.signal }),
    phase: "tls",
    received: (text) => {
      if (!text.startsWith(`${EHLO}STARTTLS\r\n`)) throw new Error(text);
    },
    closeUnseenOnDeno: true,
  }),
  aborting(auth, {
    name: "abort waiting for the AUTH reply",
    protocol: "smtp",
    covers: "abort: AUTH",
    server: {
      smtp: {
        features: ["AUTH PLAIN"],
        hook: (l) => l.startsWith("AUTH") ? (auth.fire(), null) : undefined,
      },
    },
    client: { auth: { username: USER, password: PASSWORD } },
    act: (c) => c.connect({ signal: auth.controller.signal }),
    phase: "auth",
    received: `${EHLO}AUTH PLAIN ${b64(`\0${USER}\0${PASSWORD}`)}\r\n`,
    sendsCredentials: true,
  }),
  aborting(mail, {
    name: "abort waiting for the MAIL reply (no pipelining)",
    protocol: "smtp",
    covers: "abort: MAIL",
    server: {
      smtp: {
        features: [],
        hook: (l) => l.startsWith("MAIL") ? (mail.fire(), null) : undefined,
      },
    },
    connected: true,
    act: (c) => send(c, mail.controller.signal),
    phase: "mail",
    received: `${EHLO}MAIL FROM:<a@x.test>\r\n`,
  }),
  aborting(rcpt, {
    name: "abort waiting for a RCPT reply (no pipelining)",
    protocol: "smtp",
    covers: "abort: RCPT",
    server: {
      smtp: {
        features: [],
        hook: (l) => l.startsWith("RCPT") ? (rcpt.fire(), null) : undefined,
      },
    },
    connected: true,
    act: (c) => send(c, rcpt.controller.signal),
    phase: "rcpt",
    received: ENVELOPE,
  }),
  aborting(data, {
    name: "abort waiting for the DATA reply: no body sent",
    protocol: "smtp",
    covers: "abort: DATA",
    server: {
      smtp: { hook: (l) => l === "DATA" ? (data.fireIn(50), null) : undefined },
    },
    connected: true,
    act: (c) => send(c, data.controller.signal),
    phase: "data",
    received: `${ENVELOPE}DATA\r\n`,
  }),
  aborting(stream, {
    name: "abort while streaming the body: closed, no end marker sent",
    protocol: "smtp",
    covers: "abort: DATA stream",
    server: {
      smtp: {
        hook: async (l, ctx) => {
          if (l !== "DATA") return undefined;
          await ctx.peer.write("354 go\r\n");
          void ctx.peer.waitFor("first part").then(() => stream.fire());
          return null;
        },
      },
    },
    connected: true,
    act: (c) => {
      let sent = false;
      const body = new ReadableStream<Uint8Array>({
        pull(ctl) {
          if (sent) return new Promise(() => {}); // the rest never comes
          sent = true;
          ctl.enqueue(enc.encode("Subject: x\r\n\r\nfirst part\r\n"));
        },
      }, { highWaterMark: 0 });
      return send(c, stream.controller.signal, body);
    },
    phase: "data",
    received: `${ENVELOPE}DATA\r\nSubject: x\r\n\r\nfirst part\r\n`,
  }),
  aborting(bdat, {
    name:
      "abort while a large BDAT chunk is going to a server that stopped reading",
    protocol: "smtp",
    covers: "abort: BDAT",
    server: {
      smtp: {
        features: ["PIPELINING", "CHUNKING"],
        hook: (l, ctx) => {
          if (!l.startsWith("RCPT")) return undefined;
          // Stop reading once the envelope is in (the RCPT reply still goes
          // out): the 32 MiB chunk that follows fills the socket buffers
          // and its write waits when the abort comes.
          const socket = ctx.peer.socket as { pause(): void; resume(): void };
          socket.pause();
          bdat.fireIn(100);
          setTimeout(() => socket.resume(), 1500);
          return undefined;
        },
      },
    },
    connected: true,
    act: (c) =>
      send(c, bdat.controller.signal, new Uint8Array(32 << 20).fill(0x61)),
    phase: "bdat",
    received: (text) => {
      if (!text.startsWith(`${ENVELOPE}BDAT ${(32 << 20) + 2} LAST\r\n`)) {
        throw new Error("bdat");
      }
    },
  }),
  aborting(finalReply, {
    name:
      "abort after the final dot: SmtpOutcomeUnknownError (cause: the AbortedError)",
    protocol: "smtp",
    covers: "abort: final reply (outcome unknown)",
    server: {
      smtp: { hook: (l) => l === "." ? (finalReply.fire(), null) : undefined },
    },
    connected: true,
    act: (c) => send(c, finalReply.controller.signal),
    error: SmtpOutcomeUnknownError,
    check: unknownCausedBy(finalReply),
    phase: "data reply",
    received: `${ENVELOPE}DATA\r\n${MSG}.\r\n`,
  }),
  aborting(bdatReply, {
    name:
      "abort after BDAT LAST: SmtpOutcomeUnknownError (cause: the AbortedError)",
    protocol: "smtp",
    covers: "abort: final reply after BDAT (outcome unknown)",
    server: {
      smtp: {
        features: ["PIPELINING", "CHUNKING"],
        hook: (l) =>
          l.startsWith("BDAT") ? (bdatReply.fireIn(50), null) : undefined,
      },
    },
    connected: true,
    act: (c) => send(c, bdatReply.controller.signal),
    error: SmtpOutcomeUnknownError,
    check: unknownCausedBy(bdatReply),
    phase: "data reply",
    received: `${ENVELOPE}BDAT ${Buffer.byteLength(MSG)} LAST\r\n${MSG}`,
  }),
  aborting(quit, {
    name:
      "abort waiting for the QUIT reply: AbortedError, not a silent success",
    protocol: "smtp",
    covers: "abort: QUIT",
    server: {
      smtp: { hook: (l) => l === "QUIT" ? (quit.fire(), null) : undefined },
    },
    connected: true,
    act: (c) => c.quit({ signal: quit.controller.signal }),
    phase: "quit",
    received: `${EHLO}QUIT\r\n`,
  }),
  aborting(clientSignal, {
    name:
      "the client's signal fired during RCPT: AbortedError, later calls refused",
    protocol: "smtp",
    covers: "abort: the client's signal",
    server: {
      smtp: {
        features: [],
        hook: (l) =>
          l.startsWith("RCPT") ? (clientSignal.fire(), null) : undefined,
      },
    },
    client: { signal: clientSignal.controller.signal },
    connected: true,
    act: async (c) => {
      const err = await c.sendMail({
        from: "a@x.test",
        to: "b@x.test",
        data: MSG,
      })
        .then(() => undefined, (e) => e);
      const later = await c.noop().catch((e) => e);
      if (later?.name !== "AbortedError") throw new Error(`later: ${later}`);
      throw err ?? new Error("the send resolved");
    },
    phase: "rcpt",
    received: ENVELOPE,
  }),
];
