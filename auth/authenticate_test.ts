import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  authenticate,
  type SaslStep,
  type SaslTransport,
  trimChallenge,
} from "./authenticate.ts";
import { encodeBase64 } from "./base64.ts";
import { CramMd5Mechanism } from "./cram_md5.ts";
import { AuthError } from "../errors.ts";
import { LoginMechanism } from "./login.ts";
import type { SaslMechanism } from "./mechanism.ts";
import { OAuthBearerMechanism } from "./oauthbearer.ts";
import { PlainMechanism } from "./plain.ts";
import { XOAuth2Mechanism } from "./xoauth2.ts";

const text = new TextEncoder();
const b64 = (value: string) => encodeBase64(text.encode(value));
const SECRET = "tanstaaftanstaaf";
const password = { username: "tim", password: SECRET };
const DONE: SaslStep = { done: true };
const challenge = (base64: string): SaslStep => ({
  done: false,
  challenge: base64,
});

/** A failure reply as a protocol client would throw it (e.g. SMTP 535). */
class ServerRejected extends Error {}

/**
 * A scripted server: each `begin`/`respond` consumes the next entry (a step
 * to resolve with, or an error to throw). `sent` records every line.
 */
function scripted(steps: (SaslStep | Error)[]) {
  const sent: string[] = [];
  const next = (): Promise<SaslStep> => {
    const step = steps.shift();
    if (step === undefined) {
      return Promise.reject(new Error("script exhausted"));
    }
    return step instanceof Error ? Promise.reject(step) : Promise.resolve(step);
  };
  const transport: SaslTransport = {
    begin(mechanism, initialResponse) {
      sent.push(
        initialResponse === undefined
          ? `AUTH ${mechanism}`
          : `AUTH ${mechanism} ${initialResponse}`,
      );
      return next();
    },
    respond(line) {
      sent.push(line);
      return next();
    },
  };
  return { transport, sent, steps };
}

/** A mechanism with a fixed initial response that echoes challenges. */
function echo(
  name: string,
  initial: Uint8Array | null,
  rounds = Infinity,
): SaslMechanism {
  let answered = 0;
  return {
    name,
    get finished() {
      return answered >= rounds;
    },
    start: () => initial,
    next(challenge) {
      answered++;
      return challenge;
    },
  };
}

async function rejectsAuth(
  promise: Promise<void>,
  message: string,
): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(err instanceof AuthError, `expected AuthError, got ${err}`);
    assert.equal(err.message, message);
    assert.ok(!err.message.includes(SECRET));
    return true;
  });
}

describe("authenticate: initial responses", () => {
  test("PLAIN inlines its initial response", async () => {
    const { transport, sent } = scripted([DONE]);
    await authenticate(new PlainMechanism(password), transport);
    assert.deepEqual(sent, [`AUTH PLAIN ${b64(`\0tim\0${SECRET}`)}`]);
  });

  test("initialResponse: false waits for the challenge, then sends it", async () => {
    const { transport, sent } = scripted([challenge(""), DONE]);
    await authenticate(new PlainMechanism(password), transport, {
      initialResponse: false,
    });
    assert.deepEqual(sent, ["AUTH PLAIN", b64(`\0tim\0${SECRET}`)]);
  });

  test("an empty initial response is sent as =", async () => {
    const { transport, sent } = scripted([DONE]);
    await authenticate(echo("EXTERNAL", new Uint8Array(0), 0), transport);
    assert.deepEqual(sent, ["AUTH EXTERNAL ="]);
  });

  test("an empty initial response answers the challenge with an empty line", async () => {
    const { transport, sent } = scripted([challenge(""), DONE]);
    await authenticate(echo("EXTERNAL", new Uint8Array(0), 0), transport, {
      initialResponse: false,
    });
    assert.deepEqual(sent, ["AUTH EXTERNAL", ""]);
  });

  test("maxInitialLine: a line of exactly the limit is inlined, one more is not", async () => {
    // "AUTH X " is 7 octets; 186 bytes encode to 248 characters: 255 in all.
    const ir = new Uint8Array(186).fill(0x61);
    {
      const { transport, sent } = scripted([DONE]);
      await authenticate(echo("X", ir, 0), transport, { maxInitialLine: 255 });
      assert.deepEqual(sent, [`AUTH X ${encodeBase64(ir)}`]);
      assert.equal(sent[0].length, 255);
    }
    {
      const { transport, sent } = scripted([challenge(""), DONE]);
      await authenticate(echo("X", ir, 0), transport, { maxInitialLine: 254 });
      assert.deepEqual(sent, ["AUTH X", encodeBase64(ir)]);
    }
  });

  test("maxInitialLine: a long XOAUTH2 token waits for the challenge (POP3)", async () => {
    const accessToken = "x".repeat(300);
    const mech = new XOAuth2Mechanism({
      username: "tim@example.com",
      accessToken,
    });
    const { transport, sent } = scripted([challenge(""), DONE]);
    await authenticate(mech, transport, { maxInitialLine: 255 });
    assert.deepEqual(sent, [
      "AUTH XOAUTH2",
      b64(`user=tim@example.com\x01auth=Bearer ${accessToken}\x01\x01`),
    ]);
  });

  test("without a limit, a long initial response is inlined (SMTP)", async () => {
    const accessToken = "x".repeat(2000);
    const mech = new XOAuth2Mechanism({
      username: "tim@example.com",
      accessToken,
    });
    const { transport, sent } = scripted([DONE]);
    await authenticate(mech, transport);
    assert.equal(sent.length, 1);
    assert.ok(sent[0].startsWith("AUTH XOAUTH2 "));
  });

  test("a deferred initial response answers the first challenge whatever it says", async () => {
    const { transport, sent } = scripted([challenge(b64("go ahead")), DONE]);
    await authenticate(new PlainMechanism(password), transport, {
      initialResponse: false,
    });
    assert.deepEqual(sent, ["AUTH PLAIN", b64(`\0tim\0${SECRET}`)]);
  });
});

describe("authenticate: challenges", () => {
  test("LOGIN: username, then password", async () => {
    const { transport, sent } = scripted([
      challenge(b64("Username:")),
      challenge(b64("Password:")),
      DONE,
    ]);
    await authenticate(new LoginMechanism(password), transport);
    assert.deepEqual(sent, ["AUTH LOGIN", b64("tim"), b64(SECRET)]);
  });

  test("LOGIN: prompts in the wrong order do not reveal the password early", async () => {
    const { transport, sent } = scripted([
      challenge(b64("Password:")),
      challenge(b64("Username:")),
      DONE,
    ]);
    await authenticate(new LoginMechanism(password), transport);
    assert.deepEqual(sent, ["AUTH LOGIN", b64("tim"), b64(SECRET)]);
  });

  test("CRAM-MD5: RFC 2195 exchange", async () => {
    const { transport, sent } = scripted([
      challenge("PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+"),
      DONE,
    ]);
    await authenticate(new CramMd5Mechanism(password), transport);
    assert.deepEqual(sent, [
      "AUTH CRAM-MD5",
      "dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw",
    ]);
  });

  test("XOAUTH2: the error challenge gets an empty line, the failure propagates", async () => {
    const json = '{"status":"401","schemes":"bearer"}';
    const rejection = new ServerRejected("535 5.7.8 authentication failed");
    const mech = new XOAuth2Mechanism({
      username: "tim",
      accessToken: "token",
    });
    const { transport, sent } = scripted([challenge(b64(json)), rejection]);
    await assert.rejects(
      authenticate(mech, transport),
      (err) => err === rejection,
    );
    assert.deepEqual(sent, [
      `AUTH XOAUTH2 ${b64("user=tim\x01auth=Bearer token\x01\x01")}`,
      "",
    ]);
    assert.equal(mech.error, json);
  });

  test("OAUTHBEARER: the error challenge gets \\x01", async () => {
    const json = '{"status":"invalid_token"}';
    const rejection = new ServerRejected("-ERR [AUTH] invalid token");
    const mech = new OAuthBearerMechanism({
      username: "tim",
      accessToken: "token",
    });
    const { transport, sent } = scripted([challenge(b64(json)), rejection]);
    await assert.rejects(
      authenticate(mech, transport),
      (err) => err === rejection,
    );
    assert.deepEqual(sent, [
      `AUTH OAUTHBEARER ${b64("n,a=tim,\x01auth=Bearer token\x01\x01")}`,
      "AQ==",
    ]);
    assert.equal(mech.error, json);
  });

  test("a failure reply to AUTH propagates unchanged, nothing more is sent", async () => {
    const rejection = new ServerRejected("535 5.7.8 authentication failed");
    const { transport, sent } = scripted([rejection]);
    await assert.rejects(
      authenticate(new PlainMechanism(password), transport),
      (err) => err === rejection,
    );
    assert.equal(sent.length, 1);
  });

  test("a failure reply to a response propagates unchanged", async () => {
    const rejection = new ServerRejected("535 5.7.8 authentication failed");
    const { transport, sent } = scripted([
      challenge(b64("Username:")),
      challenge(b64("Password:")),
      rejection,
    ]);
    await assert.rejects(
      authenticate(new LoginMechanism(password), transport),
      (err) => err === rejection,
    );
    assert.deepEqual(sent, ["AUTH LOGIN", b64("tim"), b64(SECRET)]);
  });
});

describe("authenticate: challenges the mechanism does not read (issue 8 item 11)", () => {
  test("Haraka's whitespace-only `334  ` before a delayed PLAIN response", async () => {
    for (const blank of [" ", "  ", "\t", ""]) {
      const { transport, sent } = scripted([challenge(blank), DONE]);
      await authenticate(new PlainMechanism(password), transport, {
        initialResponse: false,
      });
      assert.deepEqual(sent, ["AUTH PLAIN", b64(`\0tim\0${SECRET}`)]);
    }
  });

  test("a deferred initial response answers even an invalid base64 challenge", async () => {
    for (const odd of ["!", "Go ahead", "=", "VXNl cm5h"]) {
      const { transport, sent } = scripted([challenge(odd), DONE]);
      await authenticate(new PlainMechanism(password), transport, {
        initialResponse: false,
      });
      assert.deepEqual(sent, ["AUTH PLAIN", b64(`\0tim\0${SECRET}`)], odd);
    }
  });

  test("a long XOAUTH2 token deferred past the AUTH line, after a blank challenge", async () => {
    const token = "t".repeat(400);
    const credentials = { username: "tim@example.com", accessToken: token };
    const { transport, sent } = scripted([challenge("  "), DONE]);
    await authenticate(new XOAuth2Mechanism(credentials), transport, {
      maxInitialLine: 255,
    });
    assert.deepEqual(sent, [
      "AUTH XOAUTH2",
      b64(`user=tim@example.com\x01auth=Bearer ${token}\x01\x01`),
    ]);
  });

  test("OAUTHBEARER deferred the same way", async () => {
    const credentials = { username: "tim", accessToken: "x".repeat(300) };
    const { transport, sent } = scripted([challenge(" "), DONE]);
    await authenticate(new OAuthBearerMechanism(credentials), transport, {
      maxInitialLine: 255,
    });
    assert.equal(sent.length, 2);
    assert.equal(sent[0], "AUTH OAUTHBEARER");
  });

  test("LOGIN: prompts with surrounding whitespace, or not base64 at all, are answered in order", async () => {
    for (
      const prompts of [
        [` ${b64("Username:")} `, `\t${b64("Password:")}`],
        ["Username:", "Password:"], // sent raw by a broken server
        ["", " "],
      ]
    ) {
      const { transport, sent } = scripted([
        challenge(prompts[0]),
        challenge(prompts[1]),
        DONE,
      ]);
      await authenticate(new LoginMechanism(password), transport);
      assert.deepEqual(sent, ["AUTH LOGIN", b64("tim"), b64(SECRET)]);
    }
  });

  test("CRAM-MD5 stays strict: whitespace around it is trimmed, a blank one refused", async () => {
    const stamp = "<1896.697170952@postoffice.reston.mci.net>";
    {
      const { transport, sent } = scripted([
        challenge(`  ${b64(stamp)}\t`),
        DONE,
      ]);
      await authenticate(new CramMd5Mechanism(password), transport);
      assert.deepEqual(sent, [
        "AUTH CRAM-MD5",
        b64("tim b913a602c7eda7a495b4e6e7334d3890"),
      ]);
    }
    {
      const { transport, sent } = scripted([
        challenge("  "),
        new ServerRejected("501"),
      ]);
      await rejectsAuth(
        authenticate(new CramMd5Mechanism(password), transport),
        "empty challenge for CRAM-MD5",
      );
      assert.deepEqual(sent, ["AUTH CRAM-MD5", "*"]);
    }
  });

  test("trimChallenge: ASCII whitespace at both ends only", () => {
    assert.equal(trimChallenge("  ab c\t\r"), "ab c");
    assert.equal(trimChallenge("abc"), "abc");
    assert.equal(trimChallenge(" \t "), "");
    assert.equal(trimChallenge("\u00a0x\u00a0"), "\u00a0x\u00a0");
  });
});

describe("authenticate: hostile servers", () => {
  test("an invalid base64 challenge is cancelled with * (CRAM-MD5 reads it)", async () => {
    for (
      const bad of [
        "PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ",
        "not base64!",
        "PDE4OTYu\r\nNjk3",
        "PDE4 OTYu", // inner whitespace is not trimmed away
      ]
    ) {
      const { transport, sent } = scripted([
        challenge(bad),
        new ServerRejected("501 cancelled"),
      ]);
      await rejectsAuth(
        authenticate(new CramMd5Mechanism(password), transport),
        "server sent an invalid base64 challenge",
      );
      assert.deepEqual(sent, ["AUTH CRAM-MD5", "*"], JSON.stringify(bad));
    }
  });

  test("a custom mechanism is strict by default", async () => {
    const { transport, sent } = scripted([
      challenge("!!"),
      new ServerRejected("501"),
    ]);
    await rejectsAuth(
      authenticate(echo("X-ECHO", null), transport),
      "server sent an invalid base64 challenge",
    );
    assert.deepEqual(sent, ["AUTH X-ECHO", "*"]);
  });

  test("whatever the cancel gets back is ignored", async () => {
    for (const reply of [DONE, challenge(""), new Error("connection closed")]) {
      const { transport, sent } = scripted([
        challenge(b64("one")),
        challenge("%%%%"),
        reply,
      ]);
      await rejectsAuth(
        authenticate(echo("X-ECHO", null), transport),
        "server sent an invalid base64 challenge",
      );
      assert.deepEqual(sent, ["AUTH X-ECHO", b64("one"), "*"]);
    }
  });

  test("success before LOGIN sent the password", async () => {
    {
      const { transport } = scripted([DONE]);
      await rejectsAuth(
        authenticate(new LoginMechanism(password), transport),
        "server reported success before authentication finished",
      );
    }
    {
      const { transport, sent } = scripted([challenge(b64("Username:")), DONE]);
      await rejectsAuth(
        authenticate(new LoginMechanism(password), transport),
        "server reported success before authentication finished",
      );
      assert.deepEqual(sent, ["AUTH LOGIN", b64("tim")]);
    }
  });

  test("success before CRAM-MD5 answered", async () => {
    const { transport } = scripted([DONE]);
    await rejectsAuth(
      authenticate(new CramMd5Mechanism(password), transport),
      "server reported success before authentication finished",
    );
  });

  test("success before a deferred initial response was sent", async () => {
    const { transport, sent } = scripted([DONE]);
    await rejectsAuth(
      authenticate(new PlainMechanism(password), transport, {
        initialResponse: false,
      }),
      "server reported success before authentication finished",
    );
    assert.deepEqual(sent, ["AUTH PLAIN"]);
  });

  test("a challenge the mechanism refuses is cancelled, its error thrown", async () => {
    {
      const { transport, sent } = scripted([
        challenge(b64("Username:")),
        challenge(b64("Password:")),
        challenge(b64("Again:")),
        new ServerRejected("501"),
      ]);
      await rejectsAuth(
        authenticate(new LoginMechanism(password), transport),
        "unexpected third challenge for LOGIN",
      );
      assert.deepEqual(sent, ["AUTH LOGIN", b64("tim"), b64(SECRET), "*"]);
    }
    {
      const { transport, sent } = scripted([
        challenge(""),
        new ServerRejected("501"),
      ]);
      await rejectsAuth(
        authenticate(new PlainMechanism(password), transport),
        "unexpected challenge for PLAIN",
      );
      assert.deepEqual(sent, [`AUTH PLAIN ${b64(`\0tim\0${SECRET}`)}`, "*"]);
    }
  });

  test("challenge rounds are bounded", async () => {
    const steps: SaslStep[] = Array.from(
      { length: 20 },
      () => challenge(b64("more")),
    );
    const { transport, sent } = scripted(steps);
    await rejectsAuth(
      authenticate(echo("X-ECHO", null), transport),
      "server sent more than 10 challenges",
    );
    assert.deepEqual(sent, [
      "AUTH X-ECHO",
      ...Array(10).fill(b64("more")),
      "*",
    ]);
  });

  test("ten challenges are still fine", async () => {
    const steps: SaslStep[] = [
      ...Array.from({ length: 10 }, () => challenge(b64("more"))),
      DONE,
    ];
    const { transport, sent } = scripted(steps);
    await authenticate(echo("X-ECHO", null, 10), transport);
    assert.equal(sent.length, 11);
  });

  test("an invalid mechanism name is refused before anything is sent", async () => {
    for (
      const name of [
        "plain",
        "PLAIN XOAUTH2",
        "PLAIN\r\nQUIT",
        "",
        "A".repeat(21),
      ]
    ) {
      const { transport, sent } = scripted([DONE]);
      await assert.rejects(
        authenticate(echo(name, null, 0), transport),
        AuthError,
      );
      assert.deepEqual(sent, []);
    }
  });
});
