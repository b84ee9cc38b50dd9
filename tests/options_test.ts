/**
 * Strict options: every bad option of every client is refused when the
 * client is created, with an error naming it (and a hint for names other
 * libraries use), and no connection is ever opened. Per-call options are
 * checked before the call sends anything.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { InvalidInputError } from "../errors.ts";
import { LmtpClient } from "../smtp/lmtp.ts";
import { SmtpClient } from "../smtp/client.ts";
import { Pop3Client } from "../pop3/client.ts";
import type { Connector } from "../tls/conn.ts";
import { smtpFake } from "./fakes/smtp_fake.ts";

type Ctor = (options: Record<string, unknown>) => unknown;

const CLIENTS: Array<[string, Ctor]> = [
  ["SmtpClient", (o) => new SmtpClient(o as never)],
  ["LmtpClient", (o) => new LmtpClient(o as never)],
  ["Pop3Client", (o) => new Pop3Client(o as never)],
];

/** [what, options, error class, message pattern] */
const BAD: Array<
  [
    string,
    Record<string, unknown>,
    ErrorConstructor | typeof InvalidInputError,
    RegExp,
  ]
> = [
  [
    "host (nodemailer)",
    { host: "mail.example.com" },
    TypeError,
    /unknown option "host".*use "hostname"/,
  ],
  [
    "secure (nodemailer)",
    { secure: true },
    TypeError,
    /unknown option "secure".*tls: "implicit"/,
  ],
  [
    "user",
    { user: "me" },
    TypeError,
    /unknown option "user".*auth: \{ username, password \}/,
  ],
  ["pass", { pass: "x" }, TypeError, /unknown option "pass"/],
  [
    "auth.user",
    { auth: { user: "me", pass: "x" } },
    TypeError,
    /unknown option "user".*use "username"/,
  ],
  [
    "auth.pass",
    { auth: { username: "me", pass: "x" } },
    TypeError,
    /unknown option "pass".*use "password"/,
  ],
  [
    "auth without a secret",
    { auth: { username: "me" } },
    TypeError,
    /auth needs a password or an accessToken/,
  ],
  [
    "auth without a username",
    { auth: { password: "x" } },
    TypeError,
    /auth needs a username/,
  ],
  [
    "tls: true",
    { tls: true },
    TypeError,
    /tls must be .*"starttls".*got true: use tls: "implicit"/,
  ],
  ["tls: false", { tls: false }, TypeError, /tls: "none" to opt in/],
  [
    'tls: "STARTTLS"',
    { tls: "STARTTLS" },
    TypeError,
    /got "STARTTLS": modes are lowercase/,
  ],
  [
    "tls: { ca }",
    { tls: { ca: "pem" } },
    TypeError,
    /got an object: tls is a mode string; certificates go in caCerts/,
  ],
  ["ca", { ca: ["pem"] }, TypeError, /unknown option "ca".*caCerts/],
  [
    "rejectUnauthorized",
    { rejectUnauthorized: false },
    TypeError,
    /unknown option "rejectUnauthorized".*certificates are always verified/,
  ],
  [
    "port 70000",
    { port: 70000 },
    RangeError,
    /port must be from 1 to 65535, not 70000/,
  ],
  ["port 0", { port: 0 }, RangeError, /port must be from 1 to 65535/],
  ['port "587"', { port: "587" }, TypeError, /port must be an integer/],
  ["port 1.5", { port: 1.5 }, TypeError, /port must be an integer/],
  [
    "timeout NaN",
    { timeout: NaN },
    TypeError,
    /timeout must be a number of milliseconds/,
  ],
  [
    "timeout -1",
    { timeout: -1 },
    RangeError,
    /timeout must be more than 0 ms, not -1/,
  ],
  [
    "timeout 0",
    { timeout: 0 },
    RangeError,
    /timeout must be more than 0 ms.*Infinity for no deadline/,
  ],
  [
    'timeout "5000"',
    { timeout: "5000" },
    TypeError,
    /timeout must be a number/,
  ],
  [
    "connectTimeout -5",
    { connectTimeout: -5 },
    RangeError,
    /connectTimeout must be more than 0 ms/,
  ],
  [
    "hostname with CRLF",
    { hostname: "a\r\nb" },
    InvalidInputError,
    /hostname contains a cr, lf or nul/,
  ],
  [
    "hostname with a space",
    { hostname: "a b" },
    TypeError,
    /hostname must be a non-empty host name/,
  ],
  [
    "empty hostname",
    { hostname: "" },
    TypeError,
    /hostname must be a non-empty host name/,
  ],
  [
    "servername with NUL",
    { servername: "a\0b" },
    InvalidInputError,
    /servername contains a cr, lf or nul/,
  ],
  [
    "localAddress with a space",
    { localAddress: "1.2.3.4 x" },
    TypeError,
    /localAddress must be/,
  ],
  [
    "localPort 70000",
    { localPort: 70000 },
    RangeError,
    /localPort must be from 1 to 65535/,
  ],
  [
    "caCerts not an array",
    { caCerts: "pem" },
    TypeError,
    /caCerts must be an array/,
  ],
  [
    "signal not a signal",
    { signal: "stop" },
    TypeError,
    /signal must be an AbortSignal/,
  ],
  [
    "logger not a function",
    { logger: console },
    TypeError,
    /logger must be a function/,
  ],
  [
    "maxLineLength 0",
    { maxLineLength: 0 },
    RangeError,
    /maxLineLength must be from 1/,
  ],
  [
    "an unknown key",
    { foo: 1 },
    TypeError,
    /unknown option "foo" in \w+Client options$/,
  ],
];

const SMTP_ONLY: typeof BAD = [
  [
    "path with NUL",
    { path: "/run/lmtp.sock\0.evil" },
    InvalidInputError,
    /path contains a cr, lf or nul/,
  ],
  [
    "localName with CRLF",
    { localName: "me\r\nRCPT TO:<x>" },
    InvalidInputError,
    /localName contains a cr, lf or nul/,
  ],
  [
    "maxReplyLines -1",
    { maxReplyLines: -1 },
    RangeError,
    /maxReplyLines must be from 1/,
  ],
  [
    "dkim not an object",
    { dkim: "key" },
    TypeError,
    /dkim must be \{ domain, selector, privateKey, algorithm \}/,
  ],
];

const POP3_ONLY: typeof BAD = [
  [
    'tls: "opportunistic"',
    { tls: "opportunistic" },
    TypeError,
    /pop3 has no opportunistic mode/,
  ],
  [
    "maxMessageBytes 0",
    { maxMessageBytes: 0 },
    RangeError,
    /maxMessageBytes must be from 1/,
  ],
  [
    "maxListEntries 1.5",
    { maxListEntries: 1.5 },
    TypeError,
    /maxListEntries must be an integer/,
  ],
  [
    "auth.apop not a boolean",
    { auth: { username: "u", password: "p", apop: "yes" } },
    TypeError,
    /apop must be true or false/,
  ],
];

for (const [name, make] of CLIENTS) {
  const cases = [...BAD, ...(name === "Pop3Client" ? POP3_ONLY : SMTP_ONLY)];
  test(`${name}: ${cases.length} bad options are refused at construction, naming the option; no connection opened`, () => {
    let opened = 0;
    const spy: Connector = () => {
      opened++;
      return Promise.reject(new Error("must not connect"));
    };
    for (const [what, options, cls, message] of cases) {
      assert.throws(
        () => make({ ...options, connector: spy }),
        (err: unknown) => {
          assert.ok(err instanceof cls, `${what}: ${err}`);
          assert.match((err as Error).message, message, what);
          assert.match(
            (err as Error).message,
            new RegExp(`${name} options`),
            what,
          );
          return true;
        },
        what,
      );
    }
    assert.equal(opened, 0);
  });
}

test("a nodemailer-shaped options object never connects to localhost by accident", () => {
  assert.throws(
    () =>
      new SmtpClient({
        host: "smtp.example.com",
        secure: true,
        auth: { user: "me", pass: "x" },
        tls: { ca: "pem" },
      } as never),
    /unknown option "host"/,
  );
});

test("options must be an object", () => {
  assert.throws(
    () => new SmtpClient("smtp.example.com" as never),
    /must be an object/,
  );
  assert.throws(() => new Pop3Client([] as never), /must be an object/);
});

test("a valid options object is accepted as is (every documented key)", () => {
  const common = {
    hostname: "mail.example.com",
    port: 2525,
    servername: "mail.example.com",
    caCerts: [],
    allowInvalidCertificates: false,
    localAddress: "127.0.0.1",
    localPort: 40000,
    timeout: Infinity,
    connectTimeout: 10_000,
    signal: new AbortController().signal,
    connector: (() => Promise.reject(new Error("unused"))) as Connector,
    logger: () => {},
    allowInsecureAuth: false,
    mechanisms: new Map(),
    pipelining: true,
    maxLineLength: 4096,
  };
  new SmtpClient({
    ...common,
    tls: "opportunistic",
    localName: "me.example.com",
    auth: { username: "u", password: "p", mechanism: "PLAIN" },
    chunking: false,
    maxReplyLines: 100,
    maxReplyBytes: 1 << 16,
  });
  new LmtpClient({ ...common, path: "/run/dovecot/lmtp" });
  new Pop3Client({
    ...common,
    tls: "implicit",
    auth: { username: "u", accessToken: "t", apop: false },
    maxMessageBytes: 1 << 20,
    maxListEntries: 10,
  });
});

test("per-call options are checked before anything is sent (timeout NaN, a string signal, unknown keys)", async () => {
  await using fake = await smtpFake({ features: ["PIPELINING"] });
  await using client = await SmtpClient.connect({
    hostname: "127.0.0.1",
    port: fake.port,
    tls: "none",
    timeout: 5000,
  });
  const before = fake.commands.length;
  await assert.rejects(
    client.noop({ timeout: NaN }),
    /noop options: timeout must be a number/,
  );
  await assert.rejects(client.noop({ timeout: -5 }), RangeError);
  await assert.rejects(
    client.noop({ signal: "x" as unknown as AbortSignal }),
    /signal must be an AbortSignal/,
  );
  await assert.rejects(
    client.sendMail({
      from: "a@x.test",
      to: "b@x.test",
      data: "x",
      subject: "s",
    } as never),
    /unknown option "subject" in sendMail options/,
  );
  await assert.rejects(
    client.startTls({ ca: "pem" } as never),
    /unknown option "ca" in startTls options: use caCerts/,
  );
  assert.equal(fake.commands.length, before);
  assert.equal(client.connected, true);
});
