// An AbortSignal fired at every phase of POP3: AbortedError (cause = the reason) within PROMPT_MS, closed, nothing leaked.

import { fixture } from "../fakes/scripted.ts";
import { b64, PASSWORD, type Scenario, USER } from "../fakes/hostile_kit.ts";
import type { FakeOptions } from "../fakes/pop3_fake.ts";
import {
  aborting,
  connectAbort,
  greetingAbort,
  type Trigger,
  trigger,
} from "../fakes/abort_kit.ts";

const CA = [fixture("ca.pem")];
const USERS = { [USER]: PASSWORD };
const CAPA = ["USER", "UIDL", "TOP", "SASL PLAIN"];
const AUTH = { auth: { username: USER, password: PASSWORD } };
const SESSION = `CAPA\r\nAUTH PLAIN ${b64(`\0${USER}\0${PASSWORD}`)}\r\n`;
const MESSAGES = [
  "Subject: one\r\n\r\nfirst\r\n",
  "Subject: two\r\n\r\nsecond\r\n",
];

/** A logged-in maildrop that stays silent (and fires `t`) when `line` arrives. */
function silentAt(
  t: Trigger,
  match: (line: string) => boolean,
  extra: Partial<FakeOptions> = {},
): { pop3: FakeOptions } {
  return {
    pop3: {
      capa: CAPA,
      users: USERS,
      messages: MESSAGES,
      onCommand: (line) => {
        if (!match(line)) return undefined;
        t.fireIn(30);
        return "";
      },
      ...extra,
    },
  };
}

const capa = trigger("capa");
const handshake = trigger("tls");
const sasl = trigger("auth");
const user = trigger("user");
const pass = trigger("pass");
const list = trigger("list");
const uidl = trigger("uidl");
const retr = trigger("retr");
const stream = trigger("retr stream");
const dele = trigger("dele");
const quit = trigger("quit");
const clientSignal = trigger("client signal");

export const pop3AbortCases: Scenario[] = [
  connectAbort("pop3", { pop3: {} }),
  greetingAbort("pop3"),
  aborting(capa, {
    name: "abort waiting for CAPA (starttls mode)",
    protocol: "pop3",
    covers: "abort: CAPA",
    server: silentAt(capa, (l) => l === "CAPA"),
    client: { tls: "starttls", caCerts: CA },
    act: (c) => c.connect({ signal: capa.controller.signal }),
    phase: "capa",
    received: "CAPA\r\n",
  }),
  aborting(handshake, {
    name: "abort during the STLS handshake",
    protocol: "pop3",
    covers: "abort: STLS handshake",
    server: {
      script: async (peer) => {
        await peer.write("+OK ready\r\n");
        await peer.readLine();
        await peer.write("+OK\r\nSTLS\r\n.\r\n");
        await peer.readLine();
        await peer.write("+OK begin tls\r\n");
        handshake.fireIn(50);
        await peer.waitClosed(3000);
      },
    },
    client: { tls: "starttls", caCerts: CA },
    act: (c) => c.connect({ signal: handshake.controller.signal }),
    phase: "tls",
    received: (text) => {
      if (!text.startsWith("CAPA\r\nSTLS\r\n")) throw new Error(text);
    },
    closeUnseenOnDeno: true,
  }),
  aborting(sasl, {
    name: "abort waiting for the AUTH reply",
    protocol: "pop3",
    covers: "abort: AUTH",
    server: silentAt(sasl, (l) => l.startsWith("AUTH")),
    connected: true,
    act: (c) => c.login(USER, PASSWORD, { signal: sasl.controller.signal }),
    phase: "auth",
    received: `CAPA\r\nAUTH PLAIN ${b64(`\0${USER}\0${PASSWORD}`)}\r\n`,
    sendsCredentials: true,
  }),
  aborting(user, {
    name: "abort waiting for the USER reply",
    protocol: "pop3",
    covers: "abort: USER",
    server: silentAt(user, (l) => l.startsWith("USER"), { capa: ["USER"] }),
    connected: true,
    act: (c) => c.login(USER, PASSWORD, { signal: user.controller.signal }),
    phase: "auth",
    received: `CAPA\r\nUSER ${USER}\r\n`,
  }),
  aborting(pass, {
    name: "abort waiting for the PASS reply",
    protocol: "pop3",
    covers: "abort: PASS",
    server: silentAt(pass, (l) => l.startsWith("PASS"), { capa: ["USER"] }),
    connected: true,
    act: (c) => c.login(USER, PASSWORD, { signal: pass.controller.signal }),
    phase: "auth",
    received: `CAPA\r\nUSER ${USER}\r\nPASS ${PASSWORD}\r\n`,
    sendsCredentials: true,
  }),
  aborting(list, {
    name: "abort in the middle of a LIST",
    protocol: "pop3",
    covers: "abort: LIST",
    server: {
      pop3: {
        capa: CAPA,
        users: USERS,
        onCommand: (l) =>
          l === "LIST" ? (list.fireIn(30), "+OK\r\n1 10\r\n") : undefined,
      },
    },
    client: AUTH,
    connected: true,
    act: (c) => c.list({ signal: list.controller.signal }),
    phase: "list",
    received: `${SESSION}LIST\r\n`,
  }),
  aborting(uidl, {
    name: "abort waiting for UIDL",
    protocol: "pop3",
    covers: "abort: UIDL",
    server: silentAt(uidl, (l) => l === "UIDL"),
    client: AUTH,
    connected: true,
    act: (c) => c.uidl({ signal: uidl.controller.signal }),
    phase: "uidl",
    received: `${SESSION}UIDL\r\n`,
  }),
  aborting(retr, {
    name: "abort in the middle of a RETR body",
    protocol: "pop3",
    covers: "abort: RETR",
    server: {
      pop3: {
        capa: CAPA,
        users: USERS,
        messages: MESSAGES,
        onCommand: (l) =>
          l === "RETR 1"
            ? (retr.fireIn(30), "+OK\r\nSubject: one\r\n\r\nfir")
            : undefined,
      },
    },
    client: AUTH,
    connected: true,
    act: (c) => c.retr(1, { signal: retr.controller.signal }),
    phase: "retr",
    received: `${SESSION}RETR 1\r\n`,
  }),
  aborting(stream, {
    name: "abort while reading a retrStream mid-body",
    protocol: "pop3",
    covers: "abort: retrStream mid-body",
    server: {
      pop3: {
        capa: CAPA,
        users: USERS,
        onCommand: (l) =>
          l === "RETR 1"
            // More than one stream chunk, then the body stalls.
            ? "+OK\r\n" + `${"z".repeat(998)}\r\n`.repeat(200)
            : undefined,
      },
    },
    client: AUTH,
    connected: true,
    act: async (c) => {
      const reader =
        (await c.retrStream(1, { signal: stream.controller.signal }))
          .getReader();
      await reader.read(); // the first chunk arrives
      stream.fireIn(30);
      for (let i = 0; i < 1000; i++) if ((await reader.read()).done) break;
    },
    phase: "retr",
    received: `${SESSION}RETR 1\r\n`,
  }),
  aborting(dele, {
    name: "abort waiting for the DELE reply",
    protocol: "pop3",
    covers: "abort: DELE",
    server: silentAt(dele, (l) => l.startsWith("DELE")),
    client: AUTH,
    connected: true,
    act: (c) => c.dele(1, { signal: dele.controller.signal }),
    phase: "dele",
    received: `${SESSION}DELE 1\r\n`,
  }),
  aborting(quit, {
    name: "abort waiting for the QUIT reply",
    protocol: "pop3",
    covers: "abort: QUIT",
    server: silentAt(quit, (l) => l === "QUIT"),
    client: AUTH,
    connected: true,
    act: async (c) => {
      await c.dele(1);
      await c.quit({ signal: quit.controller.signal });
    },
    phase: "quit",
    received: `${SESSION}DELE 1\r\nQUIT\r\n`,
  }),
  aborting(clientSignal, {
    name:
      "the client's signal fired during RETR: AbortedError, later calls refused",
    protocol: "pop3",
    covers: "abort: the client's signal",
    server: silentAt(clientSignal, (l) => l === "RETR 2"),
    client: { ...AUTH, signal: clientSignal.controller.signal },
    connected: true,
    act: async (c) => {
      const err = await c.retr(2).then(() => undefined, (e) => e);
      const later = await c.noop().catch((e) => e);
      if (later?.name !== "AbortedError") throw new Error(`later: ${later}`);
      throw err ?? new Error("retr resolved");
    },
    phase: "retr",
    received: `${SESSION}RETR 2\r\n`,
  }),
];
