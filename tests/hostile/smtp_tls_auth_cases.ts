// Hostile cases of SMTP's TLS and AUTH: STARTTLS injection and refusal, certificates, credentials never in clear, SASL abuse.

import assert from "node:assert/strict";
import {
  AuthError,
  InvalidInputError,
  ProtocolError,
  TimeoutError,
  TlsError,
} from "../../errors.ts";
import {
  SmtpAuthenticationError,
  SmtpNotSupportedError,
  SmtpServiceClosingError,
} from "../../smtp/errors.ts";
import { PlainMechanism } from "../../auth/plain.ts";
import { fixture } from "../fakes/scripted.ts";
import {
  b64,
  PASSWORD,
  type Scenario,
  sleep,
  TOKEN,
  USER,
} from "../fakes/hostile_kit.ts";

const CA = [fixture("ca.pem")];
const EHLO = "EHLO localhost\r\n";
const AUTH = { username: USER, password: PASSWORD };
const PLAIN = `AUTH PLAIN ${b64(`\0${USER}\0${PASSWORD}`)}\r\n`;

/** A raw server: greeting, EHLO answered with `features`, then `then`. */
function ehloThen(
  features: string,
  then: (peer: import("../fakes/scripted.ts").FakePeer) => Promise<void>,
) {
  return {
    script: async (peer: import("../fakes/scripted.ts").FakePeer) => {
      await peer.write("220 fake ESMTP\r\n");
      await peer.readLine();
      await peer.write(features);
      await then(peer);
    },
  };
}

const STARTTLS_EHLO = "250-fake\r\n250-STARTTLS\r\n250 AUTH PLAIN\r\n";

/** A server that answers STARTTLS with `reply`, then runs `then`. */
function starttlsThen(
  reply: string,
  then: (peer: import("../fakes/scripted.ts").FakePeer) => Promise<void>,
) {
  return ehloThen(STARTTLS_EHLO, async (peer) => {
    await peer.readLine();
    await peer.write(reply);
    await then(peer);
  });
}

const waitClosed = (peer: import("../fakes/scripted.ts").FakePeer) =>
  peer.waitClosed(3000).then(() => {});

export const smtpTlsAuthCases: Scenario<"smtp">[] = [
  {
    name:
      "bytes injected after '220 Ready to start TLS': ProtocolError, nothing more sent",
    protocol: "smtp",
    covers: "STARTTLS injection (bytes right after 220)",
    server: starttlsThen(
      "220 Ready to start TLS\r\n250-fake\r\n250 AUTH PLAIN\r\n",
      waitClosed,
    ),
    client: { tls: "starttls", caCerts: CA, auth: AUTH },
    act: (c) => c.connect(),
    error: ProtocolError,
    phase: "tls",
    check: (err) => assert.match(err.message, /before the tls handshake/),
    within: 1000,
    received: `${EHLO}STARTTLS\r\n`,
  },
  {
    name:
      "no STARTTLS in the EHLO in starttls mode: SmtpNotSupportedError, no AUTH, no MAIL",
    protocol: "smtp",
    covers: "no STARTTLS in the EHLO after being required",
    server: ehloThen(
      "250-fake\r\n250-PIPELINING\r\n250 AUTH PLAIN\r\n",
      waitClosed,
    ),
    client: { tls: "starttls", auth: AUTH },
    act: (c) => c.connect(),
    error: SmtpNotSupportedError,
    phase: "ehlo",
    check: (err) => assert.match(err.message, /does not offer starttls/),
    within: 1000,
    received: EHLO,
  },
  {
    name: "starttls is the default mode: a server without STARTTLS is refused",
    protocol: "smtp",
    covers: "strict options: tls never silently none",
    server: ehloThen("250-fake\r\n250 AUTH PLAIN\r\n", waitClosed),
    act: (_c, ctx) => ctx.create({ tls: undefined }).connect(),
    error: SmtpNotSupportedError,
    phase: "ehlo",
    within: 1000,
    received: EHLO,
  },
  {
    name: "454 to STARTTLS: SmtpNotSupportedError, never continues in clear",
    protocol: "smtp",
    covers: "454 to STARTTLS",
    server: starttlsThen("454 4.7.0 TLS not available\r\n", waitClosed),
    client: { tls: "starttls", auth: AUTH },
    act: (c) => c.connect(),
    error: SmtpNotSupportedError,
    phase: "starttls",
    check: (err) => assert.match(err.message, /454/),
    within: 1000,
    received: `${EHLO}STARTTLS\r\n`,
  },
  {
    name: "421 to STARTTLS: SmtpServiceClosingError, nothing more sent",
    protocol: "smtp",
    covers: "421 at any point",
    server: starttlsThen("421 4.3.2 bye\r\n", waitClosed),
    client: { tls: "starttls", auth: AUTH },
    act: (c) => c.connect(),
    error: SmtpServiceClosingError,
    phase: "starttls",
    within: 1000,
    received: `${EHLO}STARTTLS\r\n`,
  },
  {
    name: "garbage instead of a TLS handshake: TlsError, nothing sent in clear",
    protocol: "smtp",
    covers: "garbage instead of a TLS handshake",
    server: starttlsThen("220 Ready to start TLS\r\n", async (peer) => {
      await sleep(50); // separately, so it isn't the injection case
      await peer.write("this is not a tls server hello\r\n".repeat(4));
      await waitClosed(peer);
    }),
    client: { tls: "starttls", caCerts: CA, auth: AUTH },
    act: (c) => c.connect(),
    error: TlsError,
    phase: "tls",
    within: 1500,
    // A ClientHello went out, and nothing else.
    received: (text) => {
      assert.ok(text.startsWith(`${EHLO}STARTTLS\r\n\x16\x03`));
      assert.ok(
        !text.includes("AUTH") && !text.includes("EHLO localhost\r\nEHLO"),
      );
    },
  },
  {
    name:
      "a server that never answers the TLS handshake: TimeoutError at the deadline",
    protocol: "smtp",
    covers: "server sends nothing (TLS handshake)",
    server: starttlsThen("220 Ready to start TLS\r\n", waitClosed),
    client: { tls: "starttls", caCerts: CA, connectTimeout: 400 },
    act: (c) => c.connect(),
    error: TimeoutError,
    phase: "tls",
    within: 1400,
    atLeast: 350,
    received: (text) => assert.ok(text.startsWith(`${EHLO}STARTTLS\r\n`)),
    closeUnseenOnDeno: true,
  },
  {
    name:
      "STARTTLS to a certificate for another host: TlsError name-mismatch, nothing after",
    protocol: "smtp",
    covers: "a certificate for another host",
    server: {
      smtp: { features: ["STARTTLS", "AUTH PLAIN"], cert: "wronghost" },
    },
    client: { tls: "starttls", caCerts: CA, auth: AUTH },
    act: (c) => c.connect(),
    error: TlsError,
    phase: "tls",
    check: (err) => assert.equal((err as TlsError).reason, "name-mismatch"),
    within: 1500,
    received: (text) => assert.ok(text.startsWith(`${EHLO}STARTTLS\r\n`)),
  },
  {
    name:
      "STARTTLS to a self-signed certificate: TlsError untrusted with the caCerts hint",
    protocol: "smtp",
    covers: "a self-signed certificate",
    server: {
      smtp: { features: ["STARTTLS", "AUTH PLAIN"], cert: "untrusted" },
    },
    client: { tls: "starttls", caCerts: CA, auth: AUTH },
    act: (c) => c.connect(),
    error: TlsError,
    phase: "tls",
    check: (err) => {
      assert.equal((err as TlsError).reason, "untrusted");
      assert.match(err.message, /caCerts/);
    },
    within: 1500,
    received: (text) => assert.ok(text.startsWith(`${EHLO}STARTTLS\r\n`)),
  },
  {
    name: "implicit TLS to an expired certificate: TlsError expired",
    protocol: "smtp",
    covers: "an expired certificate",
    server: { smtp: { implicitTls: true, cert: "expired" } },
    client: { tls: "implicit", caCerts: CA, auth: AUTH },
    act: (c) => c.connect(),
    error: TlsError,
    phase: "connect",
    check: (err) => assert.equal((err as TlsError).reason, "expired"),
    within: 1500,
    received: "",
  },
  {
    name: "implicit TLS to an untrusted certificate: TlsError, nothing sent",
    protocol: "smtp",
    covers: "a self-signed certificate",
    server: { smtp: { implicitTls: true, cert: "untrusted" } },
    client: { tls: "implicit", caCerts: CA, auth: AUTH },
    act: (c) => c.connect(),
    error: TlsError,
    phase: "connect",
    check: (err) => assert.equal((err as TlsError).reason, "untrusted"),
    within: 1500,
    received: "",
  },
  {
    name:
      "implicit TLS to a server speaking clear text: TlsError, nothing sent",
    protocol: "smtp",
    covers: "garbage instead of a TLS handshake (wrong port)",
    server: { smtp: {} },
    client: { tls: "implicit", caCerts: CA, auth: AUTH },
    act: (c) => c.connect(),
    error: TlsError,
    phase: "connect",
    within: 1500,
    received: (text) => assert.ok(!text.includes("EHLO")),
  },
  {
    name:
      "AUTH offered in clear, allowInsecureAuth off: connect fails, credentials never leave",
    protocol: "smtp",
    covers: "TLS before AUTH (no AUTH without TLS)",
    server: { smtp: { features: ["AUTH PLAIN LOGIN CRAM-MD5"] } },
    client: { allowInsecureAuth: false, auth: AUTH },
    act: (c) => c.connect(),
    error: AuthError,
    phase: "auth",
    check: (err) => assert.match(err.message, /without tls/),
    within: 1000,
    received: EHLO,
  },
  {
    name: "login() in clear, allowInsecureAuth off: AuthError, no AUTH sent",
    protocol: "smtp",
    covers: "TLS before AUTH (no AUTH without TLS)",
    server: { smtp: { features: ["AUTH PLAIN LOGIN CRAM-MD5"] } },
    client: { allowInsecureAuth: false },
    connected: true,
    act: (c) => c.login(USER, PASSWORD, { mechanism: "LOGIN" }),
    error: AuthError,
    phase: "auth",
    within: 500,
    received: EHLO,
    staysOpen: true,
  },
  {
    name:
      "loginWithToken() in clear, allowInsecureAuth off: AuthError, the token never leaves",
    protocol: "smtp",
    covers: "TLS before AUTH (no AUTH without TLS)",
    server: { smtp: { features: ["AUTH XOAUTH2 OAUTHBEARER"] } },
    client: { allowInsecureAuth: false },
    connected: true,
    act: (c) => c.loginWithToken(USER, TOKEN),
    error: AuthError,
    phase: "auth",
    within: 500,
    received: EHLO,
    staysOpen: true,
  },
  {
    name:
      "auth(mechanism) in clear, allowInsecureAuth off: AuthError, nothing sent",
    protocol: "smtp",
    covers: "TLS before AUTH (no AUTH without TLS)",
    server: { smtp: { features: ["AUTH PLAIN"] } },
    client: { allowInsecureAuth: false },
    connected: true,
    act: (c) => c.auth(new PlainMechanism(AUTH)),
    error: AuthError,
    phase: "auth",
    within: 500,
    received: EHLO,
    staysOpen: true,
  },
  {
    name:
      "opportunistic mode without STARTTLS: stays in clear, but login refuses",
    protocol: "smtp",
    covers: "TLS before AUTH (opportunistic)",
    server: { smtp: { features: ["PIPELINING", "AUTH PLAIN LOGIN CRAM-MD5"] } },
    client: { tls: "opportunistic", allowInsecureAuth: false, auth: AUTH },
    act: (c) => c.connect(),
    error: AuthError,
    phase: "auth",
    within: 1000,
    received: EHLO,
  },
  {
    name: "a 334 with invalid base64 to CRAM-MD5: '*' sent, AuthError",
    protocol: "smtp",
    covers: "a 334 with invalid base64 (where the challenge matters)",
    server: {
      smtp: {
        features: ["AUTH CRAM-MD5"],
        hook: (l) => {
          if (l === "AUTH CRAM-MD5") return "334 not*base64!\r\n";
          if (l === "*") return "501 5.7.0 cancelled\r\n";
        },
      },
    },
    connected: true,
    act: (c) => c.login(USER, PASSWORD, { mechanism: "CRAM-MD5" }),
    error: AuthError,
    phase: "auth",
    within: 1000,
    received: `${EHLO}AUTH CRAM-MD5\r\n*\r\n`,
  },
  {
    name:
      "a whitespace-only 334 to CRAM-MD5 (its challenge matters): '*' sent, AuthError",
    protocol: "smtp",
    covers: "issue 8 #11 (strict where the challenge matters)",
    server: {
      smtp: {
        features: ["AUTH CRAM-MD5"],
        hook: (l) => {
          if (l === "AUTH CRAM-MD5") return "334  \r\n";
          if (l === "*") return "501 5.7.0 cancelled\r\n";
        },
      },
    },
    connected: true,
    act: (c) => c.login(USER, PASSWORD, { mechanism: "CRAM-MD5" }),
    error: AuthError,
    phase: "auth",
    within: 1000,
    received: `${EHLO}AUTH CRAM-MD5\r\n*\r\n`,
  },
  {
    name:
      "a whitespace-only 334 before PLAIN's response (Haraka), then 535: the response was sent, SmtpAuthenticationError",
    protocol: "smtp",
    covers: "issue 8 #11 (a challenge the mechanism doesn't read)",
    server: {
      smtp: {
        features: ["AUTH PLAIN"],
        hook: (l) => {
          if (l === "AUTH PLAIN") return "334  \r\n";
          if (l === b64(`\0${USER}\0${PASSWORD}`)) return "535 5.7.8 no\r\n";
        },
      },
    },
    connected: true,
    act: (c) => c.login(USER, PASSWORD, { initialResponse: false }),
    error: SmtpAuthenticationError,
    phase: "auth",
    within: 1000,
    received: `${EHLO}AUTH PLAIN\r\n${b64(`\0${USER}\0${PASSWORD}`)}\r\n`,
    sendsCredentials: true,
    staysOpen: true,
  },
  {
    name:
      "a 9,000-line AUTH list in the EHLO (under every cap), no STARTTLS: refused within the bound (linear merge)",
    protocol: "smtp",
    covers: "issue 8 #1",
    server: {
      script: async (peer) => {
        await peer.write("220 fake ESMTP\r\n");
        await peer.readLine();
        const lines = ["250-fake"];
        for (let i = 0; i < 9000; i++) lines.push(`250-AUTH M${i} PLAIN`);
        await peer.write(lines.join("\r\n") + "\r\n250 PIPELINING\r\n");
        await waitClosed(peer);
      },
    },
    client: { tls: "starttls", caCerts: CA, connectTimeout: 1500 },
    act: (c) => c.connect(),
    error: SmtpNotSupportedError,
    phase: "ehlo",
    within: 1500,
    received: EHLO,
  },
  {
    name:
      "a 30,000-line AUTH list in the EHLO (caps raised to allow it), no STARTTLS: refused within the bound (linear merge)",
    protocol: "smtp",
    covers: "issue 8 #1 (a large reply that is allowed)",
    server: {
      script: async (peer) => {
        await peer.write("220 fake ESMTP\r\n");
        await peer.readLine();
        const lines = ["250-fake"];
        for (let i = 0; i < 30_000; i++) lines.push(`250-AUTH M${i} PLAIN`);
        await peer.write(lines.join("\r\n") + "\r\n250 PIPELINING\r\n");
        await waitClosed(peer);
      },
    },
    client: {
      tls: "starttls",
      caCerts: CA,
      connectTimeout: 1500,
      maxReplyLines: 50_000,
      maxReplyBytes: 4 << 20,
    },
    act: (c) => c.connect(),
    error: SmtpNotSupportedError,
    phase: "ehlo",
    within: 1500,
    received: EHLO,
  },
  {
    name:
      "235 before the last AUTH step (LOGIN): AuthError, the password never sent",
    protocol: "smtp",
    covers: "235 before the last AUTH step",
    server: {
      smtp: {
        features: ["AUTH LOGIN"],
        hook: (l) => {
          if (l === "AUTH LOGIN") return "334 VXNlcm5hbWU6\r\n";
          if (l === b64(USER)) return "235 2.7.0 welcome\r\n";
        },
      },
    },
    connected: true,
    act: (c) => c.login(USER, PASSWORD, { mechanism: "LOGIN" }),
    error: AuthError,
    phase: "auth",
    check: (err) => assert.match(err.message, /success|early|before/),
    within: 1000,
    received: `${EHLO}AUTH LOGIN\r\n${b64(USER)}\r\n`,
  },
  {
    name: "503 to AUTH: SmtpAuthenticationError, not a success",
    protocol: "smtp",
    covers: "503 to AUTH",
    server: {
      smtp: {
        features: ["AUTH PLAIN"],
        hook: (l) =>
          l.startsWith("AUTH")
            ? "503 5.5.1 already authenticated\r\n"
            : undefined,
      },
    },
    connected: true,
    act: (c) => c.login(USER, PASSWORD),
    error: SmtpAuthenticationError,
    phase: "auth",
    check: (err) => assert.equal((err as SmtpAuthenticationError).code, 503),
    within: 1000,
    received: EHLO + PLAIN,
    sendsCredentials: true,
    staysOpen: true,
  },
  {
    name: "535 to CRAM-MD5: SmtpAuthenticationError, no weaker mechanism tried",
    protocol: "smtp",
    covers: "535: no fall-through with the same secret",
    server: {
      smtp: {
        features: ["AUTH CRAM-MD5 PLAIN LOGIN"],
        hook: (l) =>
          l.startsWith("AUTH") ? "535 5.7.8 bad credentials\r\n" : undefined,
      },
    },
    connected: true,
    act: (c) => c.login(USER, PASSWORD),
    error: SmtpAuthenticationError,
    phase: "auth",
    check: (err) => {
      assert.equal((err as SmtpAuthenticationError).code, 535);
      assert.equal((err as SmtpAuthenticationError).enhancedCode, "5.7.8");
    },
    within: 1000,
    received: `${EHLO}AUTH CRAM-MD5\r\n`,
    staysOpen: true,
  },
  {
    name:
      "535 after the LOGIN password: SmtpAuthenticationError, one AUTH only",
    protocol: "smtp",
    covers: "535: no fall-through with the same secret",
    server: {
      smtp: {
        features: ["AUTH LOGIN PLAIN"],
        hook: (l) => {
          if (l === "AUTH LOGIN") return "334 VXNlcm5hbWU6\r\n";
          if (l === b64(USER)) return "334 UGFzc3dvcmQ6\r\n";
          if (l === b64(PASSWORD)) return "535 5.7.8 no\r\n";
        },
      },
    },
    connected: true,
    act: (c) => c.login(USER, PASSWORD, { preference: ["LOGIN", "PLAIN"] }),
    error: SmtpAuthenticationError,
    phase: "auth",
    within: 1000,
    received: `${EHLO}AUTH LOGIN\r\n${b64(USER)}\r\n${b64(PASSWORD)}\r\n`,
    sendsCredentials: true,
    staysOpen: true,
  },
  {
    name: "endless 334 challenges: '*' after a bounded number, AuthError",
    protocol: "smtp",
    covers: "SASL loops",
    server: {
      smtp: {
        features: ["AUTH LOGIN"],
        hook: (l) =>
          l === "*"
            ? "501 cancelled\r\n"
            : l.startsWith("EHLO")
            ? undefined
            : "334 VXNlcm5hbWU6\r\n",
      },
    },
    connected: true,
    act: (c) => c.login(USER, PASSWORD, { mechanism: "LOGIN" }),
    error: AuthError,
    phase: "auth",
    within: 1000,
    received: (text) => {
      assert.ok(text.endsWith("*\r\n"), "cancelled with '*'");
      assert.ok(text.split("\r\n").length <= 16, "a bounded number of answers");
    },
    sendsCredentials: true,
  },
  {
    name: "silence after AUTH: TimeoutError, closed",
    protocol: "smtp",
    covers: "server sends nothing (AUTH)",
    server: {
      smtp: {
        features: ["AUTH PLAIN"],
        hook: (l) => l.startsWith("AUTH") ? null : undefined,
      },
    },
    connected: true,
    act: (c) => c.login(USER, PASSWORD, { timeout: 300 }),
    error: TimeoutError,
    phase: "auth",
    within: 1300,
    atLeast: 250,
    received: EHLO + PLAIN,
    sendsCredentials: true,
  },
  {
    name: "421 to AUTH: SmtpServiceClosingError, closed",
    protocol: "smtp",
    covers: "421 at any point",
    server: {
      smtp: {
        features: ["AUTH PLAIN"],
        hook: (l) =>
          l.startsWith("AUTH") ? "421 4.7.0 try later\r\n" : undefined,
      },
    },
    connected: true,
    act: (c) => c.login(USER, PASSWORD),
    error: SmtpServiceClosingError,
    phase: "auth",
    within: 1000,
    received: EHLO + PLAIN,
    sendsCredentials: true,
  },
  {
    name: "a CR in the username: InvalidInputError, zero bytes sent",
    protocol: "smtp",
    covers: "CR/LF/NUL in a username",
    server: { smtp: { features: ["AUTH PLAIN"] } },
    connected: true,
    act: (c) => c.login(`${USER}\rAUTH`, PASSWORD),
    error: InvalidInputError,
    phase: "auth",
    within: 300,
    received: EHLO,
    staysOpen: true,
  },
  {
    name: "an LF in the password: InvalidInputError, zero bytes sent",
    protocol: "smtp",
    covers: "CR/LF/NUL in a password",
    server: { smtp: { features: ["AUTH PLAIN"] } },
    connected: true,
    act: (c) => c.login(USER, `${PASSWORD}\nQUIT`),
    error: InvalidInputError,
    phase: "auth",
    within: 300,
    received: EHLO,
    staysOpen: true,
  },
  {
    name: "a CRLF in the token: InvalidInputError, zero bytes sent",
    protocol: "smtp",
    covers: "issue 8 #6 (every credential checked first)",
    server: { smtp: { features: ["AUTH XOAUTH2"] } },
    connected: true,
    act: (c) => c.loginWithToken(USER, `${TOKEN}\r\nMAIL FROM:<x>`),
    error: InvalidInputError,
    phase: "auth",
    within: 300,
    received: EHLO,
    staysOpen: true,
  },
  {
    name:
      "login() before connect() with a NUL in the password: InvalidInputError, nothing opened",
    protocol: "smtp",
    covers: "issue 8 #6 (before the first byte)",
    server: { smtp: { features: ["AUTH PLAIN"] } },
    act: (c) => c.login(USER, `${PASSWORD}\0`),
    error: InvalidInputError,
    phase: "auth",
    within: 300,
    received: "",
    noConnection: true,
  },
];
