// The pipeline's envelope replies read in runs (Wire.readQuickRun): split
// across socket reads, mixed with other replies, a 421, a lost connection
// and a cap broken in the middle of them. Each outcome is the one the
// reply-by-reply path gives.

import assert from "node:assert/strict";
import { test } from "node:test";
import { type SendManyResult, SmtpClient } from "./mod.ts";
import { smtpFake } from "../tests/fakes/smtp_fake.ts";
import type { FakePeer } from "../tests/fakes/scripted.ts";

const DATA_ONLY = ["PIPELINING", "8BITMIME"];
const CHUNKING = ["PIPELINING", "CHUNKING", "8BITMIME"];
const RCPTS = 6;

const rcpts = (i: number) =>
  Array.from({ length: RCPTS }, (_, k) => `r${i}-${k}@x.test`);

/** Each result as a string: accepted and refused recipients, or the error's class and phase. */
function summary(r: SendManyResult): string {
  if (r.ok) {
    const refused = [...r.result.refused].map(([a, rep]) => `${a}=${rep.code}`);
    return `ok ${r.result.accepted.join(",")} | ${refused.join(",")}`;
  }
  const e = r.error as Error & { phase?: string; cause?: unknown };
  const cause = e.cause instanceof Error
    ? ` < ${e.cause.constructor.name}(${(e.cause as { phase?: string }).phase})`
    : "";
  return `${e.constructor.name}(${e.phase})${cause}`;
}

/**
 * Send 4 messages of RCPTS recipients each; the RCPT replies of message
 * `scripted` are held and, at its DATA (or BDAT), written as `chunks` (20 ms
 * apart, so each is a read of its own), then `end` is what the DATA gets.
 */
async function scripted(
  features: string[],
  scriptedAt: number,
  chunks: string[],
  end: string | undefined,
  options: { maxReplyBytes?: number; maxLineLength?: number } = {},
): Promise<string[]> {
  let held = false;
  const fake = await smtpFake({
    features,
    hook: async (line: string, ctx: { peer: FakePeer }) => {
      const mine = line.startsWith(`RCPT TO:<r${scriptedAt}-`);
      if (mine) {
        held = true;
        return null;
      }
      if (held && (line === "DATA" || line.startsWith("BDAT"))) {
        held = false;
        for (const c of chunks) {
          await ctx.peer.write(c);
          await new Promise((r) => setTimeout(r, 20));
        }
        return end;
      }
      return undefined;
    },
  });
  const client = new SmtpClient({
    hostname: "127.0.0.1",
    port: fake.port,
    tls: "none",
    timeout: 5000,
    ...options,
  });
  try {
    await client.connect();
    const results = await client.sendMany(
      Array.from({ length: 4 }, (_, i) => ({
        from: `s${i}@x.test`,
        to: rcpts(i),
        data: `Subject: ${i}\r\n\r\nmessage ${i}\r\n`,
      })),
    );
    return results.map(summary);
  } finally {
    await client.close();
    await fake.close();
  }
}

const all = (i: number) => `ok ${rcpts(i).join(",")} | `;

const MODES: [string, string[]][] = [["DATA", DATA_ONLY], [
  "CHUNKING",
  CHUNKING,
]];
for (const [name, features] of MODES) {
  test(`pipeline (${name}): RCPT replies split across reads, lines cut in two, other replies among them: each matched to its recipient`, async () => {
    const r = rcpts(1);
    const got = await scripted(features, 1, [
      "250 2.1.5 a\r\n250 b\r\n25",
      "0 c\r\n550 5.1.1 no\r\n250-d1\r\n",
      "250 d2\r\n251 e\r\n",
    ], undefined);
    assert.deepEqual(got, [
      all(0),
      `ok ${[r[0], r[1], r[2], r[4], r[5]].join(",")} | ${r[3]}=550`,
      all(2),
      all(3),
    ]);
  });

  test(`pipeline (${name}): a 421 in the middle of a message's RCPT replies`, async () => {
    const got = await scripted(
      features,
      1,
      ["250 a\r\n250 b\r\n421 4.3.2 bye\r\n250 c\r\n"],
      "close",
    );
    assert.deepEqual(got, [
      all(0),
      "SmtpServiceClosingError(rcpt)",
      // Never written (the writer waits for the 354, or the window): the
      // phase of the last command written.
      "SmtpNotSentError(mail) < SmtpServiceClosingError(rcpt)",
      "SmtpNotSentError(mail) < SmtpServiceClosingError(rcpt)",
    ]);
  });

  test(`pipeline (${name}): the connection lost in the middle of a message's RCPT replies`, async () => {
    const got = await scripted(
      features,
      1,
      ["250 a\r\n250 b\r\n25"],
      "close",
    );
    assert.deepEqual(got, EXPECT_LOST[name]);
  });

  test(`pipeline (${name}): a reply over maxReplyBytes in the middle of the RCPT replies`, async () => {
    const got = await scripted(
      features,
      1,
      [`250 a\r\n250-${"x".repeat(60)}\r\n250 ${"y".repeat(60)}\r\n250 c\r\n`],
      "close",
      { maxReplyBytes: 100 },
    );
    assert.deepEqual(got, EXPECT_CAP[name]);
  });

  test(`pipeline (${name}): a line over maxLineLength in the middle of the RCPT replies`, async () => {
    const got = await scripted(
      features,
      1,
      [`250 a\r\n250 ${"x".repeat(600)}\r\n250 c\r\n`],
      "close",
      { maxLineLength: 512 },
    );
    assert.deepEqual(got, EXPECT_CAP[name]);
  });
}

// DATA: the message whose replies broke waited for its 354 (nothing of its
// data went out), the rest unsent; CHUNKING: every message's data had been
// written, so each outcome is unknown.
const after = (name: string, error: string, cause: string) =>
  name === "DATA"
    ? [
      all(0),
      `${error}(rcpt)${cause}`,
      `SmtpNotSentError(mail) < ${error}(rcpt)`,
      `SmtpNotSentError(mail) < ${error}(rcpt)`,
    ]
    : [
      all(0),
      ...Array(3).fill(`SmtpOutcomeUnknownError(rcpt) < ${error}(rcpt)`),
    ];
const EXPECT_LOST: Record<string, string[]> = {
  DATA: after(
    "DATA",
    "SmtpServerDisconnectedError",
    " < ConnectionClosedError(undefined)",
  ),
  CHUNKING: after("CHUNKING", "SmtpServerDisconnectedError", ""),
};
const EXPECT_CAP: Record<string, string[]> = {
  DATA: after("DATA", "ProtocolError", ""),
  CHUNKING: after("CHUNKING", "ProtocolError", ""),
};
