import { test as nodeTest } from "node:test";
import assert from "node:assert/strict";
import { SmtpClient } from "../../smtp/client.ts";
import { smtpFake } from "./smtp_fake.ts";

type Fn = () => Promise<void>;
function test(name: string, fn: Fn) {
  const D = (globalThis as { Deno?: { test(o: unknown): void } }).Deno;
  if (D) D.test({ name, fn, sanitizeOps: true, sanitizeResources: true });
  else nodeTest(name, fn);
}

test("clean", async () => {
  const fake = await smtpFake({});
  const c = await SmtpClient.connect({
    hostname: "127.0.0.1",
    port: fake.port,
    tls: "none",
    timeout: 2000,
  });
  await c.quit();
  const p = await fake.peer();
  assert.ok(await p.waitClosed(1000));
  await fake.close();
});

test("leaky (client not closed)", async () => {
  const fake = await smtpFake({});
  const c = await SmtpClient.connect({
    hostname: "127.0.0.1",
    port: fake.port,
    tls: "none",
    timeout: 2000,
  });
  assert.ok(c.connected);
  await fake.close();
});
