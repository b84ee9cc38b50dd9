// Fuzz harness: SASL exchanges with random and mutated challenges (through the SMTP and POP3 line parsers).
import { createHmac } from "node:crypto";
import { AuthError, MailwireError } from "../../errors.ts";
import {
  authenticate,
  type SaslStep,
  trimChallenge,
} from "../../auth/authenticate.ts";
import { decodeBase64, encodeBase64 } from "../../auth/base64.ts";
import { createMechanism } from "../../auth/create_mechanism.ts";
import type { Credentials, SaslMechanism } from "../../auth/mechanism.ts";
import { parsePop3Status } from "../../io/pop3_status.ts";
import { parseReplyLine } from "../../io/smtp_reply.ts";
import { ascii, concat, mutate, Rng, show } from "./rng.ts";
import { type FuzzOptions, type FuzzReport, Tally } from "./report.ts";

/** A failure reply, as the clients throw it (SMTP 535, POP3 -ERR). */
class Rejected extends MailwireError {}

const MECHANISMS = [
  "PLAIN",
  "LOGIN",
  "CRAM-MD5",
  "XOAUTH2",
  "OAUTHBEARER",
  "X-ECHO",
];
const utf8 = new TextDecoder();

function text(rng: Rng, max: number, alphabet?: string): string {
  const n = rng.int(max + 1);
  let s = "";
  for (let i = 0; i < n; i++) {
    s += alphabet
      ? alphabet[rng.int(alphabet.length)]
      : String.fromCharCode(0x21 + rng.int(94));
  }
  return s;
}

function credentials(rng: Rng): Credentials {
  if (rng.chance(0.05)) {
    // Unsafe or ill-typed: creating the mechanism must refuse with AuthError.
    const bad = rng.pick([
      "a\r\nb",
      "\0",
      "\x01",
      "\ud800",
      "",
      7 as unknown as string,
    ]);
    const field = rng.pick(["username", "password", "accessToken", "authzid"]);
    return {
      username: "tim",
      password: "pw",
      accessToken: "tok",
      [field]: bad,
    };
  }
  const c: Credentials = {
    username: text(rng, 1, "t") + text(rng, 20) +
      (rng.chance(0.1) ? "\u00e9\u{1f600}" : ""),
    password: text(rng, 30) + (rng.chance(0.2) ? " \t\u00fc" : ""),
    accessToken: text(rng, rng.chance(0.1) ? 600 : 40),
  };
  if (rng.chance(0.2)) c.authzid = text(rng, 10);
  return c;
}

/** A custom mechanism (strict by default) that answers each challenge with its bytes. */
function echo(): SaslMechanism {
  let answered = 0;
  return {
    name: "X-ECHO",
    get finished() {
      return answered >= 2;
    },
    start: () => null,
    next(challenge) {
      answered++;
      return challenge;
    },
  };
}

/** One challenge text as a hostile or sloppy server would send it. */
function challengeText(rng: Rng): string {
  const pad = () => text(rng, 2, " \t");
  switch (rng.int(7)) {
    case 0:
      return pad() + encodeBase64(rng.bytes(rng.int(60))) + pad();
    case 1:
      return text(rng, 3, " \t"); // whitespace only (Haraka)
    case 2:
      return encodeBase64(
        ascii(
          rng.pick([
            "Username:",
            "Password:",
            "<1.2@host>",
            '{"status":"401"}',
          ]),
        ),
      );
    case 3:
      return utf8.decode(
        mutate(
          rng,
          ascii(encodeBase64(rng.bytes(rng.int(40)))),
          rng.bytes(8),
          400,
        ),
      );
    case 4:
      return text(rng, 40);
    case 5:
      return encodeBase64(rng.bytes(rng.chance(0.1) ? 6000 : 200));
    default:
      return "";
  }
}

/**
 * The challenge as the client's parsers hand it to the driver: the text of
 * a `334 ` reply line or of a POP3 `+ ` continuation (both parsed from
 * bytes), or as is. Undefined when the line parsers refuse it (typed).
 */
function throughParsers(
  rng: Rng,
  challenge: string,
  tally: Tally,
): string | undefined {
  const route = rng.int(3);
  if (route === 2) return challenge;
  const line = concat([ascii(route === 0 ? "334 " : "+ "), ascii(challenge)]);
  try {
    const parsed = route === 0 ? parseReplyLine(line).text : (() => {
      const s = parsePop3Status(line, true);
      return "continuation" in s ? s.text : undefined;
    })();
    tally.ok();
    return parsed;
  } catch (err) {
    tally.error(err, () => show(line));
    return undefined;
  }
}

function fail(message: string, context: () => string): never {
  throw new Error(`sasl: ${message}: ${context()}`);
}

/** The only lines a client may send during an exchange: canonical base64, `=` (initial only) or `*`. */
function checkLine(
  line: string,
  initial: boolean,
  context: () => string,
): void {
  if (line.includes("\r") || line.includes("\n") || line.includes("\0")) {
    fail("CR/LF/NUL sent", context);
  }
  if (line === "*" && !initial) return;
  if (line === "=" && initial) return;
  if (line === "" && !initial) return; // an empty response is an empty line
  let bytes: Uint8Array;
  try {
    bytes = decodeBase64(line);
  } catch {
    return fail(
      `non-base64 line ${JSON.stringify(line.slice(0, 40))}`,
      context,
    );
  }
  if (encodeBase64(bytes) !== line) fail("non-canonical base64 sent", context);
}

/**
 * Feed `inputs` exchanges: a random mechanism and credentials, a script of
 * random challenges (valid, padded, blank, mutated, garbage, large), success
 * or failure replies, through the SMTP or POP3 line parser or not. Checks
 * what is sent, what each mechanism answers, and that only typed errors
 * come out; every challenge also goes through the strict base64 decoder.
 */
export async function fuzzSasl(options: FuzzOptions): Promise<FuzzReport> {
  const rng = new Rng(options.seed);
  const tally = new Tally("sasl challenges");
  for (let i = 0; i < options.inputs; i++) {
    tally.feed();
    const name = rng.pick(MECHANISMS);
    const creds = credentials(rng);
    const context = () =>
      `seed ${options.seed} input ${i} ${name} ${JSON.stringify(creds)}`;
    let mechanism: SaslMechanism;
    try {
      mechanism = name === "X-ECHO" ? echo() : createMechanism(name, creds);
      tally.ok();
    } catch (err) {
      tally.error(err, context);
      if (!(err instanceof AuthError)) {
        fail(`not an AuthError: ${err}`, context);
      }
      continue;
    }
    const script: (SaslStep | Rejected)[] = [];
    const rounds = rng.int(rng.chance(0.05) ? 16 : 4);
    for (let k = 0; k < rounds; k++) {
      const raw = challengeText(rng);
      // The decoder alone: a typed error, or canonical bytes.
      try {
        const bytes = decodeBase64(trimChallenge(raw));
        if (encodeBase64(bytes) !== trimChallenge(raw)) {
          fail("decodeBase64 accepted a non-canonical text", context);
        }
        tally.ok();
      } catch (err) {
        tally.error(err, context);
      }
      const parsed = throughParsers(rng, raw, tally);
      if (parsed !== undefined) script.push({ done: false, challenge: parsed });
    }
    script.push(
      rng.chance(0.7)
        ? { done: true }
        : new Rejected("535 5.7.8 authentication failed"),
    );
    const challenges = script.filter((
      s,
    ): s is { done: false; challenge: string } =>
      !(s instanceof Error) && !s.done
    );
    const sent: string[] = [];
    let initialLine: string | undefined;
    let consumed = 0;
    let cancelled: string | undefined; // the challenge answered with "*"
    const next = (): Promise<SaslStep> => {
      const step = script[consumed++] ?? new Rejected("script exhausted");
      return step instanceof Error
        ? Promise.reject(step)
        : Promise.resolve(step);
    };
    const maxInitialLine = rng.pick([undefined, 255, 30]);
    let outcome: "ok" | MailwireError = "ok";
    try {
      await authenticate(mechanism, {
        begin(mech, initial) {
          if (mech !== name) fail(`AUTH ${mech}`, context);
          initialLine = initial;
          if (initial !== undefined) checkLine(initial, true, context);
          if (
            initial !== undefined && maxInitialLine !== undefined &&
            6 + mech.length + initial.length > maxInitialLine
          ) {
            fail("initial response over maxInitialLine", context);
          }
          return next();
        },
        respond(line) {
          sent.push(line);
          const answered = script[consumed - 1];
          if (
            line === "*" && answered && !(answered instanceof Error) &&
            !answered.done
          ) {
            cancelled = answered.challenge;
          }
          checkLine(line, false, context);
          return next();
        },
      }, { initialResponse: rng.chance(0.8), maxInitialLine });
      tally.ok();
    } catch (err) {
      if (err instanceof Error && err.message.startsWith("sasl: ")) throw err;
      tally.error(err, context);
      outcome = err as MailwireError;
    }
    if (sent.length > 11) fail(`${sent.length} responses`, context);
    const star = sent.indexOf("*");
    if (
      star !== -1 &&
      (star !== sent.length - 1 || !(outcome instanceof AuthError))
    ) {
      fail("* not last, or not an AuthError after it", context);
    }
    if (outcome === "ok" && !mechanism.finished) {
      fail("success before the mechanism finished", context);
    }
    // "Invalid base64" only for a challenge that is invalid once trimmed, and
    // (the deferred initial response case is checked below).
    if (
      outcome instanceof AuthError &&
      outcome.message === "server sent an invalid base64 challenge"
    ) {
      let valid = true;
      try {
        decodeBase64(trimChallenge(cancelled ?? ""));
      } catch {
        valid = false;
      }
      if (cancelled === undefined || valid) {
        fail("a valid challenge refused as invalid base64", context);
      }
      if (name === "LOGIN") {
        fail("LOGIN refused a prompt it does not read", context);
      }
    }
    // A deferred initial response answers the first challenge whatever it
    // says: the first response is that message, never a cancel.
    const first = script[0];
    const deferred = ["PLAIN", "XOAUTH2", "OAUTHBEARER"].includes(name) &&
      initialLine === undefined && !(first instanceof Error) && !first.done;
    if (deferred && (sent.length === 0 || sent[0] === "*")) {
      fail(
        "the first challenge did not get the deferred initial response",
        context,
      );
    }
    // What each mechanism must have answered.
    const answers = [
      ...(initialLine && initialLine !== "=" ? [initialLine] : []),
      ...sent.filter((l) => l !== "*"),
    ];
    const decoded = answers.map((a) => utf8.decode(decodeBase64(a)));
    if (name === "PLAIN" && decoded.length > 0) {
      const want = `${
        creds.authzid ?? ""
      }\0${creds.username}\0${creds.password}`;
      if (decoded[0] !== want) fail("PLAIN message", context);
    }
    if (name === "LOGIN") {
      const want = [creds.username, creds.password];
      decoded.forEach((d, k) =>
        d !== want[k] && fail(`LOGIN answer ${k}`, context)
      );
    }
    if (name === "CRAM-MD5" && decoded.length > 0) {
      const challenge = decodeBase64(trimChallenge(challenges[0].challenge));
      const digest = createHmac("md5", creds.password!).update(challenge)
        .digest("hex");
      if (decoded[0] !== `${creds.username} ${digest}`) {
        fail("CRAM-MD5 digest", context);
      }
    }
  }
  return tally.report();
}
