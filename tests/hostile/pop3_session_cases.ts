// Hostile POP3 servers from login on: credential refusals and SASL abuse, listings, bodies that never end, unsafe arguments.

import assert from "node:assert/strict";
import {
  AuthError,
  InvalidInputError,
  ProtocolError,
  TimeoutError,
} from "../../errors.ts";
import {
  Pop3AuthenticationError,
  Pop3Error,
  Pop3NotSupportedError,
  Pop3ResponseError,
  Pop3ServerDisconnectedError,
} from "../../pop3/errors.ts";
import type { Pop3Client } from "../../pop3/client.ts";
import type { FakeOptions } from "../fakes/pop3_fake.ts";
import { fixture } from "../fakes/scripted.ts";
import {
  b64,
  PASSWORD,
  type Scenario,
  sleep,
  TOKEN,
  USER,
} from "../fakes/hostile_kit.ts";
import { RFC_GREETING } from "./pop3_connect_cases.ts";

const CA = [fixture("ca.pem")];
const USERS = { [USER]: PASSWORD };
const CAPA = ["USER", "UIDL", "TOP", "RESP-CODES", "SASL PLAIN LOGIN"];
const LOGIN = `USER ${USER}\r\nPASS ${PASSWORD}\r\n`;
/** What connecting with `auth` sends before the call under test. */
const SESSION = `CAPA\r\n${`AUTH PLAIN ${b64(`\0${USER}\0${PASSWORD}`)}`}\r\n`;
const MESSAGES = [
  "Subject: one\r\n\r\nfirst\r\n",
  "Subject: two\r\n\r\nsecond\r\n",
];

/** A logged-in session against a maildrop whose `onCommand` misbehaves. */
function session(
  onCommand: FakeOptions["onCommand"],
  extra: Partial<FakeOptions> = {},
): { pop3: FakeOptions } {
  return {
    pop3: { capa: CAPA, users: USERS, messages: MESSAGES, onCommand, ...extra },
  };
}

/** Login for `connected: true` cases (PLAIN over clear text: allowed for the fake). */
const auth = { auth: { username: USER, password: PASSWORD } };

/** The caller's input refused before a byte is sent (logged in first). */
const refused: Array<[string, string, (c: Pop3Client) => Promise<unknown>]> = [
  ["a CRLF in command()", "command", (c) => c.command("NOOP\r\nDELE 1")],
  ["a message id of 0", "retr", (c) => c.retr(0)],
  ["a negative message id", "dele", (c) => c.dele(-1)],
  ["a fractional message id", "list", (c) => c.list(1.5)],
  ["a negative TOP line count", "top", (c) => c.top(1, -1)],
  ["RETR through command()", "command", (c) => c.command("RETR 1")],
];

export const pop3SessionCases: Scenario<"pop3">[] = [
  {
    name:
      "login() in clear, allowInsecureAuth off: AuthError, zero bytes (no CAPA either)",
    protocol: "pop3",
    covers: "TLS before AUTH (no credentials in clear)",
    server: { pop3: { capa: CAPA, users: USERS } },
    client: { allowInsecureAuth: false },
    connected: true,
    act: (c) => c.login(USER, PASSWORD),
    error: AuthError,
    phase: "auth",
    check: (err) => assert.match(err.message, /without tls/),
    within: 300,
    received: "",
    staysOpen: true,
  },
  {
    name:
      "connect with auth in clear, allowInsecureAuth off: AuthError, closed, zero bytes",
    protocol: "pop3",
    covers: "TLS before AUTH (no credentials in clear)",
    server: { pop3: { capa: CAPA, users: USERS } },
    client: {
      allowInsecureAuth: false,
      auth: { username: USER, password: PASSWORD },
    },
    act: (c) => c.connect(),
    error: AuthError,
    phase: "auth",
    within: 1000,
    received: "",
  },
  {
    name:
      "loginWithToken(user, 'tok\\r\\nDELE 1'): InvalidInputError, zero bytes, CAPA included",
    protocol: "pop3",
    covers: "issue 8 #6",
    server: { pop3: { capa: ["SASL XOAUTH2"], users: USERS } },
    connected: true,
    act: (c) => c.loginWithToken(USER, `${TOKEN}\r\nDELE 1`),
    error: InvalidInputError,
    phase: "auth",
    within: 300,
    received: "",
    staysOpen: true,
  },
  {
    name: "a NUL in the authzid: InvalidInputError at construction",
    protocol: "pop3",
    covers: "issue 8 #6 (authzid)",
    server: { pop3: {} },
    act: async (_c, ctx) => {
      await Promise.resolve();
      ctx.create({
        auth: { username: USER, password: PASSWORD, authzid: "admin\0" },
      });
    },
    error: InvalidInputError,
    phase: undefined,
    within: 100,
    received: "",
    noConnection: true,
  },
  {
    name: "a CR in user(): InvalidInputError, zero bytes",
    protocol: "pop3",
    covers: "CR/LF/NUL in a username",
    server: { pop3: { capa: CAPA, users: USERS } },
    connected: true,
    act: (c) => c.user(`${USER}\rPASS x`),
    error: InvalidInputError,
    phase: "auth",
    within: 300,
    received: "",
    staysOpen: true,
  },
  {
    name: "an LF in pass(): InvalidInputError, zero bytes",
    protocol: "pop3",
    covers: "CR/LF/NUL in a password",
    server: { pop3: { capa: CAPA, users: USERS } },
    connected: true,
    act: (c) => c.pass(`${PASSWORD}\nDELE 1`),
    error: InvalidInputError,
    phase: "auth",
    within: 300,
    received: "",
    staysOpen: true,
  },
  {
    name: "a NUL in apop()'s secret: InvalidInputError, zero bytes",
    protocol: "pop3",
    covers: "CR/LF/NUL in a password",
    server: { pop3: { greeting: RFC_GREETING, users: USERS } },
    connected: true,
    act: (c) => c.apop(USER, `${PASSWORD}\0`),
    error: InvalidInputError,
    phase: "auth",
    within: 300,
    received: "",
    staysOpen: true,
  },
  {
    name:
      "-ERR [AUTH] to PASS: Pop3AuthenticationError with the code, tried once",
    protocol: "pop3",
    covers: "RESP-CODES: [AUTH]",
    server: { pop3: { capa: ["USER"], users: { [USER]: "another" } } },
    connected: true,
    act: (c) => c.login(USER, PASSWORD),
    error: Pop3AuthenticationError,
    phase: "auth",
    check: (err) =>
      assert.equal((err as Pop3AuthenticationError).respCode, "AUTH"),
    within: 1000,
    received: `CAPA\r\n${LOGIN}`,
    sendsCredentials: true,
    staysOpen: true,
  },
  {
    name:
      "-ERR [IN-USE] to PASS: Pop3AuthenticationError, code IN-USE (retry later)",
    protocol: "pop3",
    covers: "-ERR [IN-USE]",
    server: session(
      (l) =>
        l.startsWith("PASS") ? "-ERR [IN-USE] maildrop locked\r\n" : undefined,
      { capa: ["USER"] },
    ),
    connected: true,
    act: (c) => c.login(USER, PASSWORD),
    error: Pop3AuthenticationError,
    phase: "auth",
    check: (err) =>
      assert.equal((err as Pop3AuthenticationError).respCode, "IN-USE"),
    within: 1000,
    received: `CAPA\r\n${LOGIN}`,
    sendsCredentials: true,
    staysOpen: true,
  },
  {
    name:
      "-ERR [LOGIN-DELAY] to PASS: Pop3AuthenticationError, code LOGIN-DELAY",
    protocol: "pop3",
    covers: "RESP-CODES: [LOGIN-DELAY]",
    server: session(
      (l) => l.startsWith("PASS") ? "-ERR [LOGIN-DELAY] wait\r\n" : undefined,
      { capa: ["USER"] },
    ),
    connected: true,
    act: (c) => c.login(USER, PASSWORD),
    error: Pop3AuthenticationError,
    phase: "auth",
    check: (err) =>
      assert.equal((err as Pop3AuthenticationError).respCode, "LOGIN-DELAY"),
    within: 1000,
    received: `CAPA\r\n${LOGIN}`,
    sendsCredentials: true,
    staysOpen: true,
  },
  {
    name: "USER refused: Pop3AuthenticationError, the password never sent",
    protocol: "pop3",
    covers: "no secret after a refusal",
    server: session(
      (l) => l.startsWith("USER") ? "-ERR no such user\r\n" : undefined,
      { capa: ["USER"] },
    ),
    connected: true,
    act: (c) => c.login(USER, PASSWORD),
    error: Pop3AuthenticationError,
    phase: "auth",
    within: 1000,
    received: `CAPA\r\nUSER ${USER}\r\n`,
    staysOpen: true,
  },
  {
    name:
      "a SASL challenge with invalid base64 to CRAM-MD5: '*' sent, AuthError",
    protocol: "pop3",
    covers:
      "a 334 (POP3 '+ ') with invalid base64 (where the challenge matters)",
    server: session((l) => {
      if (l === "AUTH CRAM-MD5") return "+ not*base64!\r\n";
      if (l === "*") return "-ERR cancelled\r\n";
    }, { capa: ["SASL CRAM-MD5"] }),
    connected: true,
    act: (c) => c.login(USER, PASSWORD, { mechanism: "CRAM-MD5" }),
    error: AuthError,
    phase: "auth",
    within: 1000,
    received: "CAPA\r\nAUTH CRAM-MD5\r\n*\r\n",
  },
  {
    name: "a UID with bytes over 0x7E: ProtocolError, never a lossy string",
    protocol: "pop3",
    covers: "issue 8 #5",
    server: session((l) =>
      l === "UIDL"
        ? new Uint8Array([
          ...new TextEncoder().encode("+OK\r\n1 id"),
          0xff,
          0xfe,
          ...new TextEncoder().encode("\r\n2 id"),
          0xfe,
          0xff,
          ...new TextEncoder().encode("\r\n.\r\n"),
        ])
        : undefined
    ),
    client: auth,
    connected: true,
    act: (c) => c.uidl(),
    error: ProtocolError,
    phase: "uidl",
    within: 1000,
    received: `${SESSION}UIDL\r\n`,
  },
  {
    name:
      "a greeting of '<' and 100,000 '@' (line cap raised), APOP forced: no timestamp, refused within the bound",
    protocol: "pop3",
    covers: "issue 8 #2",
    server: { pop3: { greeting: "+OK <" + "@".repeat(100_000), users: USERS } },
    client: { maxLineLength: 1 << 20 },
    act: async (c) => {
      await c.connect();
      await c.login(USER, PASSWORD, { mechanism: "APOP" });
    },
    error: Pop3NotSupportedError,
    phase: "auth",
    within: 1000,
    received: "",
    staysOpen: true,
  },
  {
    name: "endless SASL challenges: '*' after a bounded number, AuthError",
    protocol: "pop3",
    covers: "SASL loops",
    server: session((l) => {
      if (l === "CAPA") return undefined;
      return l === "*" ? "-ERR cancelled\r\n" : "+ VXNlcm5hbWU6\r\n";
    }, { capa: ["SASL LOGIN"] }),
    connected: true,
    act: (c) => c.login(USER, PASSWORD, { mechanism: "LOGIN" }),
    error: AuthError,
    phase: "auth",
    within: 1000,
    received: (text) => {
      assert.ok(text.endsWith("*\r\n"));
      assert.ok(text.split("\r\n").length <= 18, "a bounded number of answers");
    },
    sendsCredentials: true,
  },
  {
    name:
      "+OK before the last SASL step (LOGIN after the username): AuthError, the password never sent",
    protocol: "pop3",
    covers: "235 (+OK) before the last AUTH step",
    server: session((l) => {
      if (l === "AUTH LOGIN") return "+ VXNlcm5hbWU6\r\n";
      if (l === b64(USER)) return "+OK welcome\r\n";
    }, { capa: ["SASL LOGIN"] }),
    connected: true,
    act: (c) => c.login(USER, PASSWORD, { mechanism: "LOGIN" }),
    error: AuthError,
    phase: "auth",
    within: 1000,
    received: `CAPA\r\nAUTH LOGIN\r\n${b64(USER)}\r\n`,
  },
  {
    name: "silence after PASS: TimeoutError, closed",
    protocol: "pop3",
    covers: "server sends nothing (login)",
    server: session((l) => l.startsWith("PASS") ? "" : undefined, {
      capa: ["USER"],
    }),
    client: { timeout: 300 },
    connected: true,
    act: (c) => c.login(USER, PASSWORD),
    error: TimeoutError,
    phase: "auth",
    within: 1300,
    atLeast: 250,
    received: `CAPA\r\n${LOGIN}`,
    sendsCredentials: true,
  },
  {
    name: "a half-closed server after USER: Pop3ServerDisconnectedError",
    protocol: "pop3",
    covers: "half-closed sockets",
    server: session((l, peer) => {
      if (!l.startsWith("USER")) return undefined;
      void peer.write("+OK go on\r\n").then(() => peer.end());
      return "";
    }, { capa: ["USER"] }),
    connected: true,
    act: (c) => c.login(USER, PASSWORD),
    error: Pop3ServerDisconnectedError,
    phase: "auth",
    within: 1000,
    received: (text) => assert.ok(text.startsWith(`CAPA\r\nUSER ${USER}\r\n`)),
    sendsCredentials: true,
  },
  {
    name:
      "APOP forced on a greeting without a timestamp: Pop3NotSupportedError, nothing sent",
    protocol: "pop3",
    covers: "a greeting without APOP timestamp when APOP is asked",
    server: { pop3: { greeting: "+OK ready", users: USERS } },
    connected: true,
    act: (c) => c.login(USER, PASSWORD, { mechanism: "APOP" }),
    error: Pop3NotSupportedError,
    phase: "auth",
    within: 300,
    received: "",
    staysOpen: true,
  },
  {
    name:
      "a timestamp greeting over TLS, APOP not asked: USER/PASS, never APOP",
    protocol: "pop3",
    covers: "issue 8 #10",
    server: {
      pop3: {
        greeting: RFC_GREETING,
        capa: ["STLS", "USER"],
        users: { [USER]: "other" },
      },
    },
    client: {
      tls: "starttls",
      caCerts: CA,
      allowInsecureAuth: false,
      auth: { username: USER, password: PASSWORD },
    },
    act: (c) => c.connect(),
    error: Pop3AuthenticationError,
    phase: "auth",
    within: 1500,
    received: `CAPA\r\nSTLS\r\nCAPA\r\n${LOGIN}`,
    sendsCredentials: true,
  },
  {
    name: "LIST that never ends: TimeoutError, closed",
    protocol: "pop3",
    covers: "a POP3 multi-line body that never ends",
    server: session((l) =>
      l === "LIST" ? "+OK\r\n1 100\r\n2 200\r\n" : undefined
    ),
    client: { ...auth, timeout: 300 },
    connected: true,
    act: (c) => c.list(),
    error: TimeoutError,
    phase: "list",
    within: 1300,
    atLeast: 250,
    received: `${SESSION}LIST\r\n`,
  },
  {
    name: "LIST with more entries than maxListEntries: ProtocolError, closed",
    protocol: "pop3",
    covers: "caps count entries (LIST)",
    server: session((l) =>
      l === "LIST"
        ? "+OK\r\n" + Array.from({ length: 100 }, (_, i) =>
          `${i + 1} 1\r\n`).join("") +
          ".\r\n"
        : undefined
    ),
    client: { ...auth, maxListEntries: 50 },
    connected: true,
    act: (c) => c.list(),
    error: ProtocolError,
    phase: "list",
    within: 1000,
    received: `${SESSION}LIST\r\n`,
  },
  {
    name: "a malformed LIST line: ProtocolError, closed",
    protocol: "pop3",
    covers: "strict listings",
    server: session((l) =>
      l === "LIST" ? "+OK\r\n1 100\r\ntwo 2x\r\n.\r\n" : undefined
    ),
    client: auth,
    connected: true,
    act: (c) => c.list(),
    error: ProtocolError,
    phase: "list",
    within: 1000,
    received: `${SESSION}LIST\r\n`,
  },
  {
    name: "a UIDL line without a UID: ProtocolError, closed",
    protocol: "pop3",
    covers: "strict listings",
    server: session((l) => l === "UIDL" ? "+OK\r\n1\r\n.\r\n" : undefined),
    client: auth,
    connected: true,
    act: (c) => c.uidl(),
    error: ProtocolError,
    phase: "uidl",
    within: 1000,
    received: `${SESSION}UIDL\r\n`,
  },
  {
    name: "a malformed STAT answer: ProtocolError, closed",
    protocol: "pop3",
    covers: "strict status lines",
    server: session((l) => l === "STAT" ? "+OK lots of mail\r\n" : undefined),
    client: auth,
    connected: true,
    act: (c) => c.stat(),
    error: ProtocolError,
    phase: "stat",
    within: 1000,
    received: `${SESSION}STAT\r\n`,
  },
  {
    name: "a RETR body that never ends: TimeoutError, closed",
    protocol: "pop3",
    covers: "a POP3 multi-line body that never ends",
    server: session((l) =>
      l === "RETR 1" ? "+OK\r\nSubject: x\r\n\r\nand on\r\n" : undefined
    ),
    client: { ...auth, timeout: 300 },
    connected: true,
    act: (c) => c.retr(1),
    error: TimeoutError,
    phase: "retr",
    within: 1300,
    atLeast: 250,
    received: `${SESSION}RETR 1\r\n`,
  },
  {
    name: "a RETR body over maxMessageBytes: ProtocolError, closed",
    protocol: "pop3",
    covers: "caps count bytes (message)",
    server: session(async (l, peer) => {
      if (l !== "RETR 1") return undefined;
      await peer.write("+OK\r\n");
      const block = "a".repeat(1000) + "\r\n";
      for (let i = 0; i < 200 && !peer.ended; i++) await peer.write(block);
      return ".\r\n";
    }),
    client: { ...auth, maxMessageBytes: 50_000 },
    connected: true,
    act: (c) => c.retr(1),
    error: ProtocolError,
    phase: "retr",
    within: 1000,
    received: `${SESSION}RETR 1\r\n`,
  },
  {
    name: "a close in the middle of a RETR body: Pop3ServerDisconnectedError",
    protocol: "pop3",
    covers: "RST in the middle of a body",
    server: session((l, peer) => {
      if (l !== "RETR 1") return undefined;
      void peer.write("+OK\r\nSubject: x\r\n\r\nhalf a mess").then(() =>
        peer.destroy()
      );
      return "";
    }),
    client: auth,
    connected: true,
    act: (c) => c.retr(1),
    error: Pop3ServerDisconnectedError,
    phase: "retr",
    within: 1000,
    received: `${SESSION}RETR 1\r\n`,
  },
  {
    name: "+ERR to RETR: ProtocolError, closed",
    protocol: "pop3",
    covers: "a +ERR POP3 status",
    server: session((l) => l === "RETR 1" ? "+ERR gone\r\n" : undefined),
    client: auth,
    connected: true,
    act: (c) => c.retr(1),
    error: ProtocolError,
    phase: "retr",
    within: 1000,
    received: `${SESSION}RETR 1\r\n`,
  },
  {
    name:
      "a lone '.' mid-message: the rest is unsolicited, the next command refuses to go out",
    protocol: "pop3",
    covers: "a body line '.' alone mid-message",
    server: session((l) =>
      l === "RETR 1" ? "+OK\r\nbefore\r\n.\r\nafter\r\n.\r\n" : undefined
    ),
    client: auth,
    connected: true,
    act: async (c) => {
      assert.equal(new TextDecoder().decode(await c.retr(1)), "before\r\n");
      await c.noop();
    },
    error: ProtocolError,
    phase: "noop",
    check: (err) => assert.match(err.message, /nobody asked for/),
    within: 1000,
    received: `${SESSION}RETR 1\r\n`,
  },
  {
    name:
      "two answers to one NOOP: ProtocolError before the next command goes out",
    protocol: "pop3",
    covers: "more replies than commands",
    server: session((l) => l === "NOOP" ? "+OK\r\n+OK extra\r\n" : undefined),
    client: auth,
    connected: true,
    act: async (c) => {
      await c.noop();
      await c.stat();
    },
    error: ProtocolError,
    phase: "stat",
    within: 1000,
    received: `${SESSION}NOOP\r\n`,
  },
  {
    name:
      "retrStream: a body that stalls mid-way: TimeoutError from the read, closed",
    protocol: "pop3",
    covers: "a POP3 multi-line body that never ends (streamed)",
    server: session((l) =>
      l === "RETR 1" ? "+OK\r\nSubject: x\r\n\r\nstalls here\r\n" : undefined
    ),
    client: { ...auth, timeout: 300 },
    connected: true,
    act: async (c) => {
      const reader = (await c.retrStream(1)).getReader();
      for (let i = 0; i < 100; i++) if ((await reader.read()).done) break;
    },
    error: TimeoutError,
    phase: "retr",
    within: 1300,
    atLeast: 250,
    received: `${SESSION}RETR 1\r\n`,
  },
  {
    name:
      "retrStream: a reset mid-body: Pop3ServerDisconnectedError from the read",
    protocol: "pop3",
    covers: "RST in the middle of a body (streamed)",
    server: session((l, peer) => {
      if (l !== "RETR 1") return undefined;
      void peer.write("+OK\r\nSubject: x\r\n\r\nhalf").then(() => sleep(50))
        .then(() => peer.destroy());
      return "";
    }),
    client: auth,
    connected: true,
    act: async (c) => {
      const reader = (await c.retrStream(1)).getReader();
      for (let i = 0; i < 100; i++) if ((await reader.read()).done) break;
    },
    error: Pop3ServerDisconnectedError,
    phase: "retr",
    within: 1000,
    received: `${SESSION}RETR 1\r\n`,
  },
  {
    name:
      "pipelining advertised, then only the first answer: TimeoutError, closed",
    protocol: "pop3",
    covers: "a CAPA that lies (PIPELINING)",
    server: session(
      (l) => l.startsWith("DELE 2") || l.startsWith("DELE 3") ? "" : undefined,
      {
        capa: [...CAPA, "PIPELINING"],
        messages: [...MESSAGES, "Subject: three\r\n\r\n3\r\n"],
      },
    ),
    client: { ...auth, timeout: 300 },
    connected: true,
    act: (c) => c.deleMany([1, 2, 3]),
    error: TimeoutError,
    phase: "pipeline",
    within: 1300,
    atLeast: 250,
    received: `${SESSION}DELE 1\r\nDELE 2\r\nDELE 3\r\n`,
  },
  {
    name: "CAPA without UIDL: uidl() refused before sending",
    protocol: "pop3",
    covers: "capabilities respected",
    server: {
      pop3: { capa: ["USER", "SASL PLAIN"], users: USERS, messages: MESSAGES },
    },
    client: auth,
    connected: true,
    act: (c) => c.uidl(),
    error: Pop3NotSupportedError,
    phase: "uidl",
    within: 300,
    // The list from before login lacks UIDL: CAPA again (RFC 2449 lets it
    // change after login), and still no UIDL: refused, UIDL never sent.
    received: `${SESSION}CAPA\r\n`,
    staysOpen: true,
  },
  {
    name: "STLS after login: Pop3Error, nothing sent",
    protocol: "pop3",
    covers: "STLS only in AUTHORIZATION state (RFC 2595)",
    server: { pop3: { capa: [...CAPA, "STLS"], users: USERS } },
    client: auth,
    connected: true,
    act: (c) => c.stls({ caCerts: CA }),
    error: Pop3Error,
    phase: "stls",
    within: 300,
    received: SESSION,
    staysOpen: true,
  },
  {
    name: "DELE answered -ERR: Pop3ResponseError, the session goes on",
    protocol: "pop3",
    covers: "-ERR answers keep the session in step",
    server: session((l) =>
      l === "DELE 1" ? "-ERR [SYS/PERM] read-only\r\n" : undefined
    ),
    client: auth,
    connected: true,
    act: (c) => c.dele(1),
    error: Pop3ResponseError,
    phase: "dele",
    check: (err) =>
      assert.equal((err as Pop3ResponseError).respCode, "SYS/PERM"),
    within: 1000,
    received: `${SESSION}DELE 1\r\n`,
    staysOpen: true,
  },
  {
    name:
      "QUIT answered -ERR: Pop3ResponseError, closed (deletions not committed)",
    protocol: "pop3",
    covers: "DELE final only after a clean QUIT",
    server: session((l) =>
      l === "QUIT" ? "-ERR some deletes failed\r\n" : undefined
    ),
    client: auth,
    connected: true,
    act: async (c) => {
      await c.dele(1);
      await c.quit();
    },
    error: Pop3ResponseError,
    phase: "quit",
    within: 1000,
    received: `${SESSION}DELE 1\r\nQUIT\r\n`,
  },
  {
    name: "QUIT never answered: TimeoutError, closed",
    protocol: "pop3",
    covers: "server sends nothing (QUIT)",
    server: session((l) => l === "QUIT" ? "" : undefined),
    client: { ...auth, timeout: 300 },
    connected: true,
    act: (c) => c.quit(),
    error: TimeoutError,
    phase: "quit",
    within: 1300,
    atLeast: 250,
    received: `${SESSION}QUIT\r\n`,
  },
  ...refused.map(([what, phase, call]): Scenario<"pop3"> => ({
    name: `${what}: InvalidInputError, zero bytes sent`,
    protocol: "pop3",
    covers: "CR/LF/NUL and bad values in any argument",
    server: { pop3: { capa: CAPA, users: USERS, messages: MESSAGES } },
    client: auth,
    connected: true,
    act: call,
    error: InvalidInputError,
    phase,
    within: 300,
    received: SESSION,
    staysOpen: true,
  })),
];
