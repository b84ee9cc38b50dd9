import assert from "node:assert/strict";
import { test } from "node:test";
import {
  CredentialError,
  EXIT,
  EXIT_TABLE,
  exitCodeOf,
  LocalIoError,
  UsageError,
  worstExit,
} from "./exit.ts";
import {
  AbortedError,
  ConnectError,
  ConnectionClosedError,
  InvalidInputError,
  type MailwireError,
  ProtocolError,
  TimeoutError,
  TlsError,
} from "../tls/mod.ts";
import { AuthError } from "../auth/mod.ts";
import {
  SmtpAuthenticationError,
  SmtpConnectError,
  SmtpDataError,
  SmtpHeloError,
  SmtpNotSupportedError,
  SmtpOutcomeUnknownError,
  SmtpRecipientsRefusedError,
  type SmtpReply,
  SmtpSenderRefusedError,
  SmtpServerDisconnectedError,
  SmtpServiceClosingError,
} from "../smtp/mod.ts";
import {
  Pop3AuthenticationError,
  Pop3NotSupportedError,
  Pop3ResponseError,
  Pop3ServerDisconnectedError,
} from "../pop3/mod.ts";

const reply = (code: number): SmtpReply => ({
  code,
  lines: ["x"],
  text: "x",
  permanent: code >= 500,
  transient: code >= 400 && code < 500,
});
const at = <T extends MailwireError>(err: T, phase: string): T => {
  err.phase = phase;
  return err;
};

test("each error class maps to its exit code", () => {
  const cases: [unknown, number][] = [
    [new UsageError("x"), EXIT.usage],
    [new InvalidInputError("x"), EXIT.usage],
    [new ConnectError("x"), EXIT.connect],
    [new SmtpConnectError("x", reply(554)), EXIT.connect],
    [new SmtpHeloError("x", reply(501)), EXIT.connect],
    [new ConnectionClosedError("x"), EXIT.connect],
    [new SmtpServerDisconnectedError("x"), EXIT.connect],
    [new Pop3ServerDisconnectedError("x"), EXIT.connect],
    [
      at(
        new Pop3ResponseError("x", { ok: false, text: "go away" }),
        "greeting",
      ),
      EXIT.connect,
    ],
    [at(new TimeoutError("x", 1), "greeting"), EXIT.connect],
    [new TlsError("x", { reason: "untrusted" }), EXIT.tls],
    [at(new ProtocolError("bytes before tls"), "starttls"), EXIT.tls],
    [at(new TimeoutError("x", 1), "tls"), EXIT.tls],
    [
      new SmtpNotSupportedError("server does not offer starttls; refusing"),
      EXIT.tls,
    ],
    [
      new Pop3NotSupportedError("server does not offer stls; refusing"),
      EXIT.tls,
    ],
    [new AuthError("refusing to send credentials without tls"), EXIT.auth],
    [new SmtpAuthenticationError("x", reply(535)), EXIT.auth],
    [
      new Pop3AuthenticationError("x", {
        ok: false,
        text: "no",
        respCode: "AUTH",
      }),
      EXIT.auth,
    ],
    [new SmtpNotSupportedError("server does not offer auth"), EXIT.auth],
    [at(new TimeoutError("x", 1), "auth"), EXIT.auth],
    [new CredentialError("token command failed"), EXIT.auth],
    [new SmtpSenderRefusedError("a@b", reply(553)), EXIT.refused],
    [
      new SmtpRecipientsRefusedError(new Map([["a@b", reply(550)]])),
      EXIT.refused,
    ],
    [new SmtpDataError("x", reply(554)), EXIT.refused],
    [new SmtpServiceClosingError("x", reply(421)), EXIT.refused],
    [
      new SmtpNotSupportedError("server does not support smtputf8"),
      EXIT.refused,
    ],
    [
      at(
        new Pop3ResponseError("x", { ok: false, text: "no such message" }),
        "retr",
      ),
      EXIT.refused,
    ],
    [new SmtpOutcomeUnknownError("lost after the data"), EXIT.outcomeUnknown],
    [new ProtocolError("line too long"), EXIT.protocol],
    [at(new TimeoutError("x", 1), "data reply"), EXIT.protocol],
    [new LocalIoError("x"), EXIT.localIo],
    [new AbortedError("x"), EXIT.interrupted],
    [new Error("bug"), EXIT.internal],
    ["a string", EXIT.internal],
  ];
  for (const [err, code] of cases) {
    assert.equal(
      exitCodeOf(err),
      code,
      `${(err as Error).name ?? err}: ${(err as Error).message ?? ""}`,
    );
  }
});

test("worstExit: interrupted > outcome unknown > ... > refused > ok", () => {
  assert.equal(worstExit(EXIT.ok, EXIT.refused), EXIT.refused);
  assert.equal(
    worstExit(EXIT.refused, EXIT.outcomeUnknown),
    EXIT.outcomeUnknown,
  );
  assert.equal(
    worstExit(EXIT.outcomeUnknown, EXIT.refused),
    EXIT.outcomeUnknown,
  );
  assert.equal(worstExit(EXIT.connect, EXIT.refused), EXIT.connect);
  assert.equal(
    worstExit(EXIT.outcomeUnknown, EXIT.interrupted),
    EXIT.interrupted,
  );
});

test("the table lists every exit code once, in order", () => {
  const codes = EXIT_TABLE.map(([c]) => c);
  assert.deepEqual(
    codes,
    [...new Set(Object.values(EXIT))].sort((a, b) => a - b),
  );
});
