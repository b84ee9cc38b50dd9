// Hostile POP3 servers up to login: greetings, STLS injection and refusal, certificates, CAPA abuse.

import assert from "node:assert/strict";
import {
  ConnectError,
  ProtocolError,
  TimeoutError,
  TlsError,
} from "../../errors.ts";
import {
  Pop3NotSupportedError,
  Pop3ResponseError,
  Pop3ServerDisconnectedError,
} from "../../pop3/errors.ts";
import { type FakePeer, fixture } from "../fakes/scripted.ts";
import { RFC_GREETING } from "../fakes/pop3_fake.ts";
import { PASSWORD, type Scenario, sleep, USER } from "../fakes/hostile_kit.ts";

const CA = [fixture("ca.pem")];
const AUTH = { username: USER, password: PASSWORD };
const USERS = { [USER]: PASSWORD };
const STLS_CAPA = ["STLS", "USER", "SASL PLAIN", "UIDL", "TOP"];

const waitClosed = (peer: FakePeer) => peer.waitClosed(3000).then(() => {});

/** A raw POP3 server: greeting, CAPA with STLS, then `then` after STLS. */
function stlsThen(reply: string, then: (peer: FakePeer) => Promise<void>) {
  return {
    script: async (peer: FakePeer) => {
      await peer.write("+OK ready\r\n");
      await peer.readLine();
      await peer.write("+OK\r\nSTLS\r\nUSER\r\n.\r\n");
      await peer.readLine();
      await peer.write(reply);
      await then(peer);
    },
  };
}

const bad: Array<[string, string]> = [
  ["+ERR (neither +OK nor -ERR)", "+ERR ready"],
  ["OK without the plus", "OK ready"],
  ["+OKAY", "+OKAY ready"],
  ["an empty line", ""],
];

export const pop3ConnectCases: Scenario<"pop3">[] = [
  {
    name:
      "a silent server (no greeting): TimeoutError with the implicit-TLS hint",
    protocol: "pop3",
    covers: "server sends nothing (greeting timeout)",
    server: { script: waitClosed },
    client: { timeout: 300 },
    act: (c) => c.connect(),
    error: TimeoutError,
    phase: "greeting",
    check: (err) => assert.match(err.message, /no greeting.*995/),
    within: 1300,
    atLeast: 250,
    received: "",
  },
  {
    name:
      "a greeting dripping one byte per 100 ms: the whole-call deadline fires",
    protocol: "pop3",
    covers: "a reply that drips (total deadline, not per read)",
    server: {
      script: async (peer) => {
        for (const ch of "+OK a very slow greeting\r\n") {
          if (peer.ended) return;
          await peer.write(ch);
          await sleep(100);
        }
      },
    },
    client: { timeout: 500 },
    act: (c) => c.connect(),
    error: TimeoutError,
    phase: "greeting",
    within: 1500,
    atLeast: 450,
    received: "",
  },
  {
    name: "an endless greeting line: ProtocolError at the line cap",
    protocol: "pop3",
    covers: "an endless line",
    server: {
      script: async (peer) => {
        await peer.write("+OK ");
        const block = "x".repeat(1024);
        for (let i = 0; i < 10_000 && !peer.ended; i++) {
          await peer.write(block);
          await sleep(1);
        }
      },
    },
    act: (c) => c.connect(),
    error: ProtocolError,
    phase: "greeting",
    within: 1500,
    received: "",
  },
  ...bad.map(([what, greeting]): Scenario<"pop3"> => ({
    name: `a greeting with ${what}: ProtocolError, nothing sent`,
    protocol: "pop3",
    covers: "a +ERR POP3 status (strict status lines)",
    server: { pop3: { greeting } },
    act: (c) => c.connect(),
    error: ProtocolError,
    phase: "greeting",
    within: 1000,
    received: "",
  })),
  {
    name: "-ERR [SYS/TEMP] greeting: Pop3ResponseError with the response code",
    protocol: "pop3",
    covers: "RESP-CODES exposed (RFC 3206)",
    server: { pop3: { greeting: "-ERR [SYS/TEMP] too busy" } },
    act: (c) => c.connect(),
    error: Pop3ResponseError,
    phase: "greeting",
    check: (err) =>
      assert.equal((err as Pop3ResponseError).respCode, "SYS/TEMP"),
    within: 1000,
    received: "",
  },
  {
    name: "an SMTP server on the POP3 port: ProtocolError with the hint",
    protocol: "pop3",
    covers: "wrong-protocol hint",
    server: { pop3: { greeting: "220 mail.example ESMTP" } },
    act: (c) => c.connect(),
    error: ProtocolError,
    phase: "greeting",
    check: (err) => assert.match(err.message, /smtp server; use SmtpClient/),
    within: 1000,
    received: "",
  },
  {
    name: "a close right after accepting: Pop3ServerDisconnectedError",
    protocol: "pop3",
    covers: "fewer replies than commands, then close",
    server: { script: (peer) => Promise.resolve(peer.end()) },
    act: (c) => c.connect(),
    error: Pop3ServerDisconnectedError,
    phase: "greeting",
    within: 1000,
    received: "",
  },
  {
    name: "connection refused: ConnectError, quickly",
    protocol: "pop3",
    covers: "connect failure",
    server: "none",
    act: (c) => c.connect(),
    error: ConnectError,
    phase: "connect",
    within: 1000,
    received: "",
    noConnection: true,
  },
  {
    name: "bytes injected after '+OK begin TLS': ProtocolError, no credentials",
    protocol: "pop3",
    covers: "STLS injection (bytes right after +OK)",
    server: stlsThen("+OK begin tls\r\n+OK injected\r\n", waitClosed),
    client: { tls: "starttls", caCerts: CA, auth: AUTH },
    act: (c) => c.connect(),
    error: ProtocolError,
    phase: "tls",
    check: (err) => assert.match(err.message, /before the tls handshake/),
    within: 1000,
    received: "CAPA\r\nSTLS\r\n",
  },
  {
    name:
      "STLS refused (-ERR): Pop3NotSupportedError, never continues in clear",
    protocol: "pop3",
    covers: "-ERR to STLS (no stripping)",
    server: stlsThen("-ERR not now\r\n", waitClosed),
    client: { tls: "starttls", caCerts: CA, auth: AUTH },
    act: (c) => c.connect(),
    error: Pop3NotSupportedError,
    phase: "stls",
    within: 1000,
    received: "CAPA\r\nSTLS\r\n",
  },
  {
    name:
      "no STLS in CAPA in starttls mode: Pop3NotSupportedError, no credentials",
    protocol: "pop3",
    covers: "no STLS after being required",
    server: { pop3: { capa: ["USER", "SASL PLAIN"], users: USERS } },
    client: { tls: "starttls", caCerts: CA, auth: AUTH },
    act: (c) => c.connect(),
    error: Pop3NotSupportedError,
    phase: "stls",
    check: (err) => assert.match(err.message, /does not offer stls/),
    within: 1000,
    received: "CAPA\r\n",
  },
  {
    name:
      "CAPA refused in starttls mode: Pop3NotSupportedError (no STLS known), no credentials",
    protocol: "pop3",
    covers: "no STLS after being required",
    server: { pop3: { capa: null, users: USERS } },
    client: { tls: "starttls", caCerts: CA, auth: AUTH },
    act: (c) => c.connect(),
    error: Pop3NotSupportedError,
    phase: "stls",
    within: 1000,
    received: "CAPA\r\n",
  },
  {
    name: "garbage instead of a TLS handshake after STLS: TlsError",
    protocol: "pop3",
    covers: "garbage instead of a TLS handshake",
    server: stlsThen("+OK begin tls\r\n", async (peer) => {
      await sleep(50);
      await peer.write("this is not a tls server hello\r\n".repeat(4));
      await waitClosed(peer);
    }),
    client: { tls: "starttls", caCerts: CA, auth: AUTH },
    act: (c) => c.connect(),
    error: TlsError,
    phase: "tls",
    within: 1500,
    received: (text) => {
      assert.ok(text.startsWith("CAPA\r\nSTLS\r\n\x16\x03"));
      assert.ok(!text.includes("USER") && !text.includes("AUTH"));
    },
  },
  {
    name:
      "a server that never answers the TLS handshake: TimeoutError at the deadline",
    protocol: "pop3",
    covers: "server sends nothing (TLS handshake)",
    server: stlsThen("+OK begin tls\r\n", waitClosed),
    client: { tls: "starttls", caCerts: CA, connectTimeout: 400, auth: AUTH },
    act: (c) => c.connect(),
    error: TimeoutError,
    phase: "tls",
    within: 1400,
    atLeast: 350,
    received: (text) => assert.ok(text.startsWith("CAPA\r\nSTLS\r\n")),
    closeUnseenOnDeno: true,
  },
  {
    name:
      "STLS to a certificate for another host: TlsError name-mismatch, no credentials",
    protocol: "pop3",
    covers: "a certificate for another host",
    server: { pop3: { capa: STLS_CAPA, cert: "wronghost", users: USERS } },
    client: { tls: "starttls", caCerts: CA, auth: AUTH },
    act: (c) => c.connect(),
    error: TlsError,
    phase: "tls",
    check: (err) => assert.equal((err as TlsError).reason, "name-mismatch"),
    within: 1500,
    received: (text) => assert.ok(text.startsWith("CAPA\r\nSTLS\r\n")),
  },
  {
    name:
      "STLS to a self-signed certificate: TlsError untrusted with the caCerts hint",
    protocol: "pop3",
    covers: "a self-signed certificate",
    server: { pop3: { capa: STLS_CAPA, cert: "untrusted", users: USERS } },
    client: { tls: "starttls", caCerts: CA, auth: AUTH },
    act: (c) => c.connect(),
    error: TlsError,
    phase: "tls",
    check: (err) => {
      assert.equal((err as TlsError).reason, "untrusted");
      assert.match(err.message, /caCerts/);
    },
    within: 1500,
    received: (text) => assert.ok(text.startsWith("CAPA\r\nSTLS\r\n")),
  },
  {
    name: "POP3S to an expired certificate: TlsError expired",
    protocol: "pop3",
    covers: "an expired certificate",
    server: { pop3: { implicitTls: true, cert: "expired", users: USERS } },
    client: { tls: "implicit", caCerts: CA, auth: AUTH },
    act: (c) => c.connect(),
    error: TlsError,
    phase: "connect",
    check: (err) => assert.equal((err as TlsError).reason, "expired"),
    within: 1500,
    received: "",
  },
  {
    name: "POP3S to a server speaking clear text: TlsError, nothing sent",
    protocol: "pop3",
    covers: "garbage instead of a TLS handshake (wrong port)",
    server: { pop3: { users: USERS } },
    client: { tls: "implicit", caCerts: CA, auth: AUTH },
    act: (c) => c.connect(),
    error: TlsError,
    phase: "connect",
    within: 1500,
    received: (text) =>
      assert.ok(!text.includes("USER") && !text.includes("CAPA")),
  },
  {
    name: "an endless CAPA (over 1 MiB): ProtocolError",
    protocol: "pop3",
    covers: "caps count bytes",
    server: {
      pop3: {
        onCommand: async (line, peer) => {
          if (line !== "CAPA") return undefined;
          await peer.write("+OK\r\n");
          const block = "X-FILLER some capability line\r\n".repeat(1000);
          for (let i = 0; i < 200 && !peer.ended; i++) {
            await peer.write(block);
            await sleep(1);
          }
          return "";
        },
      },
    },
    client: { timeout: 3000 },
    connected: true,
    act: (c) => c.capa(),
    error: ProtocolError,
    phase: "capa",
    within: 3000,
    received: "CAPA\r\n",
  },
  {
    name: "a CAPA that never ends: TimeoutError",
    protocol: "pop3",
    covers: "a POP3 multi-line body that never ends",
    server: {
      pop3: {
        onCommand: (l) => l === "CAPA" ? "+OK\r\nUSER\r\nTOP\r\n" : undefined,
      },
    },
    client: { timeout: 300 },
    connected: true,
    act: (c) => c.capa(),
    error: TimeoutError,
    phase: "capa",
    within: 1300,
    atLeast: 250,
    received: "CAPA\r\n",
  },
  {
    name: "a CAPA with more lines than maxListEntries: ProtocolError",
    protocol: "pop3",
    covers: "caps count entries",
    server: {
      pop3: {
        capa: Array.from({ length: 50 }, (_, i) => `X-CAP-${i}`),
      },
    },
    client: { maxListEntries: 20 },
    connected: true,
    act: (c) => c.capa(),
    error: ProtocolError,
    phase: "capa",
    check: (err) => assert.match(err.message, /maxListEntries/),
    within: 1000,
    received: "CAPA\r\n",
  },
  {
    name: "a CAPA line with a +ERR status: ProtocolError",
    protocol: "pop3",
    covers: "a +ERR POP3 status",
    server: {
      pop3: { onCommand: (l) => l === "CAPA" ? "+ERR what\r\n" : undefined },
    },
    connected: true,
    act: (c) => c.capa(),
    error: ProtocolError,
    phase: "capa",
    within: 1000,
    received: "CAPA\r\n",
  },
];

/** The RFC 1939 example greeting, for APOP cases. */
export { RFC_GREETING };
