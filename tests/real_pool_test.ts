/**
 * SmtpPool against the real Postfix, through a proxy that cuts the first
 * connection mid-batch: every message is accounted for (delivered and
 * reported sent, or reported of unknown outcome), none is lost, none is
 * delivered twice. With CHUNKING and with DATA only.
 */
import assert from "node:assert/strict";
import net from "node:net";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { SmtpOutcomeUnknownError, SmtpPool } from "../smtp/mod.ts";
import { realEnv, token, waitForDelivery } from "./real/env.ts";
import { remove } from "./real/pop3.ts";

const env = realEnv();
const carol = env.users[2];

/** A TCP proxy to `port` that cuts its first connection after `cutAfter` client bytes. */
async function cuttingProxy(port: number, cutAfter: number) {
  let first = true;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect({ port, host: env.host });
    sockets.add(client).add(upstream);
    const cut = first;
    first = false;
    let seen = 0;
    client.on("data", (d: Uint8Array) => {
      seen += d.length;
      if (cut && seen > cutAfter) {
        // Forward part of this chunk, then drop both sides mid-stream.
        upstream.write(d.subarray(0, d.length - (seen - cutAfter)), () => {
          client.destroy();
          upstream.destroy();
        });
        return;
      }
      upstream.write(d);
    });
    upstream.on("data", (d: Uint8Array) => client.write(d));
    for (const s of [client, upstream]) {
      s.on("error", () => {});
      s.on("close", () => {
        client.destroy();
        upstream.destroy();
      });
    }
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

/** How many messages in carol's Maildir hold `needle`. */
function deliveries(needle: string): number {
  let n = 0;
  for (const sub of ["new", "cur"]) {
    let names: string[] = [];
    try {
      names = readdirSync(join(carol.maildir, sub));
    } catch { /* not there yet */ }
    for (const name of names) {
      try {
        if (
          readFileSync(join(carol.maildir, sub, name), "latin1").includes(
            needle,
          )
        ) n++;
      } catch { /* moved meanwhile */ }
    }
  }
  return n;
}

for (const chunking of [true, false]) {
  test(`real pool (${chunking ? "CHUNKING" : "DATA"}): a connection cut mid-batch loses nothing and duplicates nothing`, async () => {
    const proxy = await cuttingProxy(env.smtp.mx, chunking ? 40_000 : 12_000);
    const pool = new SmtpPool({
      hostname: "127.0.0.1",
      port: proxy.port,
      tls: "none",
      chunking,
      maxConnections: 1,
      timeout: 30_000,
    });
    const run = token(`pool-${chunking ? "bdat" : "data"}`);
    // With CHUNKING, 64 KiB writes go out back to back: enough messages
    // that some are still unwritten when the cut comes (re-queued, sent).
    const ids = Array.from(
      { length: chunking ? 150 : 30 },
      (_, i) => `${run}-${i}`,
    );
    try {
      const results = await Promise.allSettled(ids.map((id) =>
        pool.sendMail({
          from: env.users[0].address,
          to: carol.address,
          data: `From: ${env.users[0].address}\r\nTo: ${carol.address}\r\n` +
            `Subject: ${id}\r\n\r\n${id}\r\n${
              "x".repeat(700)
            }\r\n.dot line\r\n`,
        })
      ));
      await pool.close();
      let sent = 0, unknown = 0;
      for (const [i, r] of results.entries()) {
        if (r.status === "fulfilled") {
          sent++;
          await waitForDelivery(carol, `Subject: ${ids[i]}\n`);
        } else {
          assert.ok(
            r.reason instanceof SmtpOutcomeUnknownError,
            `message ${i}: ${r.reason}`,
          );
          unknown++;
        }
      }
      assert.ok(
        unknown >= 1,
        `the cut should leave at least one unknown (${sent} sent): ${
          results.filter((r) => r.status === "rejected").map((r) =>
            String((r as PromiseRejectedResult).reason)
          )
        }`,
      );
      assert.ok(sent >= 1, "messages behind the cut are sent again");
      assert.equal(sent + unknown, ids.length);
      // Let Postfix finish anything it queued, then count.
      await new Promise((r) => setTimeout(r, 1500));
      for (const [i, r] of results.entries()) {
        const n = deliveries(`Subject: ${ids[i]}\n`);
        if (r.status === "fulfilled") assert.equal(n, 1, `message ${i}`);
        else assert.ok(n <= 1, `message ${i} delivered ${n} times`);
      }
    } finally {
      await pool.close();
      await proxy.close();
      // Others read carol's newest messages (the workerd round trip looks at
      // the last 50): take this run's away.
      await remove(carol, run);
    }
  });
}
