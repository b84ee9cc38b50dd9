// Every abort on SMTP and LMTP: the table (tests/aborts/smtp_cases.ts), and an abort between LMTP's per-recipient replies.
import assert from "node:assert/strict";
import { LmtpClient } from "../../smtp/lmtp.ts";
import { registerScenarios } from "../fakes/hostile_kit.ts";
import { smtpFake } from "../fakes/smtp_fake.ts";
import { test } from "../fakes/test.ts";
import { PROMPT_MS, trigger } from "../fakes/abort_kit.ts";
import { smtpAbortCases } from "./smtp_cases.ts";

registerScenarios("smtp aborts", smtpAbortCases, "abort");

test("abort between LMTP's per-recipient replies: the delivery is reported, the rest unknown, closed", async () => {
  const t = trigger("lmtp replies");
  await using fake = await smtpFake({
    lmtp: true,
    hook: (l, ctx) => {
      if (l !== ".") return undefined;
      void ctx.peer.write("250 2.0.0 b delivered\r\n").then(() => t.fireIn(50));
      return null;
    },
  });
  const client = await LmtpClient.connect({
    hostname: "127.0.0.1",
    port: fake.port,
    timeout: 3000,
  });
  try {
    const result = await client.sendMail({
      from: "a@x.test",
      to: ["b@x.test", "c@x.test"],
      data: "Subject: x\r\n\r\nx\r\n",
      signal: t.controller.signal,
    });
    assert.deepEqual(result.accepted, ["b@x.test"]);
    assert.deepEqual(result.unknown, ["c@x.test"]);
    assert.equal(result.deliveries?.get("b@x.test")?.code, 250);
    assert.equal(client.connected, false);
    assert.ok(await (await fake.peer()).waitClosed(PROMPT_MS * 4));
  } finally {
    await client.close();
  }
});
