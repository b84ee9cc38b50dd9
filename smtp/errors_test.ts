import { test } from "node:test";
import assert from "node:assert/strict";
import {
  SmtpAuthenticationError,
  SmtpConnectError,
  SmtpDataError,
  SmtpError,
  SmtpHeloError,
  SmtpNotSupportedError,
  SmtpOutcomeUnknownError,
  SmtpRecipientsRefusedError,
  SmtpResponseError,
  SmtpSenderRefusedError,
  SmtpServerDisconnectedError,
  SmtpServiceClosingError,
} from "./errors.ts";
import { MailwireError } from "../errors.ts";
import { makeReply } from "../io/smtp_reply.ts";

const r550 = makeReply(550, ["5.1.1 no such user"]);
const r421 = makeReply(421, ["4.3.2 shutting down"]);

test("errors: every class is a SmtpError, a MailwireError and an Error, named after itself", () => {
  const all: Error[] = [
    new SmtpError("e"),
    new SmtpServerDisconnectedError("e"),
    new SmtpOutcomeUnknownError("e"),
    new SmtpResponseError("e", r550),
    new SmtpSenderRefusedError("a@x.test", r550),
    new SmtpRecipientsRefusedError(new Map([["b@x.test", r550]])),
    new SmtpDataError("e", r550),
    new SmtpConnectError("e", r550),
    new SmtpHeloError("e", r550),
    new SmtpAuthenticationError("e", r550),
    new SmtpServiceClosingError("e", r421),
    new SmtpNotSupportedError("e"),
  ];
  for (const e of all) {
    assert.ok(e instanceof Error);
    assert.ok(e instanceof MailwireError);
    assert.ok(e instanceof SmtpError);
    assert.equal(e.name, e.constructor.name);
    assert.equal(typeof e.stack, "string");
  }
});

test("errors: the hierarchy follows smtplib", () => {
  assert.ok(
    new SmtpOutcomeUnknownError("x") instanceof SmtpServerDisconnectedError,
  );
  for (
    const e of [
      new SmtpSenderRefusedError("a", r550),
      new SmtpDataError("x", r550),
      new SmtpConnectError("x", r550),
      new SmtpHeloError("x", r550),
      new SmtpAuthenticationError("x", r550),
      new SmtpServiceClosingError("x", r421),
    ]
  ) {
    assert.ok(e instanceof SmtpResponseError, e.name);
  }
  assert.ok(
    !(new SmtpRecipientsRefusedError(new Map()) instanceof SmtpResponseError),
  );
  assert.ok(!(new SmtpNotSupportedError("x") instanceof SmtpResponseError));
  assert.ok(
    !(new SmtpServiceClosingError("x", r421) instanceof
      SmtpServerDisconnectedError),
  );
});

test("errors: SmtpResponseError exposes the reply, code, enhanced code, permanence", () => {
  const e = new SmtpResponseError("mail refused", r550);
  assert.equal(e.reply, r550);
  assert.equal(e.code, 550);
  assert.equal(e.enhancedCode, "5.1.1");
  assert.equal(e.permanent, true);
  assert.equal(e.transient, false);
  assert.equal(e.message, "mail refused: 550 5.1.1 no such user");
  const t = new SmtpServiceClosingError("closing", r421);
  assert.equal(t.permanent, false);
  assert.equal(t.transient, true);
  assert.equal(t.enhancedCode, "4.3.2");
  const plain = new SmtpDataError("x", makeReply(554, ["no"]));
  assert.equal(plain.enhancedCode, undefined);
});

test("errors: multi-line reply text is kept in the message", () => {
  const e = new SmtpConnectError(
    "refused",
    makeReply(554, ["go away", "really"]),
  );
  assert.equal(e.message, "refused: 554 go away\nreally");
});

test("errors: SmtpSenderRefusedError names the sender", () => {
  const e = new SmtpSenderRefusedError("a@x.test", r550);
  assert.equal(e.sender, "a@x.test");
  assert.equal(e.code, 550);
  assert.match(e.message, /^sender refused: 550/);
});

test("errors: SmtpRecipientsRefusedError carries every recipient's reply", () => {
  const r2 = makeReply(450, ["4.2.1 try later"]);
  const map = new Map([["a@x.test", r550], ["b@x.test", r2]]);
  const e = new SmtpRecipientsRefusedError(map);
  assert.equal(e.recipients, map);
  assert.deepEqual([...e.recipients.keys()], ["a@x.test", "b@x.test"]);
  assert.equal(e.recipients.get("b@x.test")?.code, 450);
  assert.equal(
    e.message,
    "all 2 recipient(s) refused: 550 5.1.1 no such user",
  );
  assert.equal(
    new SmtpRecipientsRefusedError(new Map()).message,
    "all 0 recipient(s) refused",
  );
});

test("errors: cause is passed through", () => {
  const cause = new Error("root");
  assert.equal(new SmtpOutcomeUnknownError("x", { cause }).cause, cause);
  assert.equal(new SmtpDataError("x", r550, { cause }).cause, cause);
  assert.equal(
    new SmtpSenderRefusedError("a", r550, { cause }).cause,
    cause,
  );
  assert.equal(
    new SmtpRecipientsRefusedError(new Map(), { cause }).cause,
    cause,
  );
});
