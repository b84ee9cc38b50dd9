/**
 * One behaviour table, run against every client (SMTP, LMTP, POP3): the
 * session layer (io/session.ts) gives them the same semantics for aborts,
 * timeouts, the client's signal, close and calls after close.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { AbortedError, type MailwireError, TimeoutError } from "../errors.ts";
import type { LogEntry } from "../io/log.ts";
import { LmtpClient } from "../smtp/lmtp.ts";
import { SmtpClient } from "../smtp/client.ts";
import { SmtpServerDisconnectedError } from "../smtp/errors.ts";
import { Pop3Client } from "../pop3/client.ts";
import { Pop3ServerDisconnectedError } from "../pop3/errors.ts";
import { type FakePeer, fakeServer, fixture } from "./fakes/scripted.ts";
import { smtpFake } from "./fakes/smtp_fake.ts";
import { timed } from "./fakes/timing.ts";

/** How a NOOP is answered: at once, after a delay, half (mid-reply), or never. */
type Answer = "ok" | "late" | "half" | "never";

interface Client {
  connect(): Promise<unknown>;
  noop(call?: { signal?: AbortSignal; timeout?: number }): Promise<unknown>;
  close(): Promise<void>;
  readonly connected: boolean;
}

interface Kind {
  name: string;
  protocol: string;
  greeting: string;
  /** The reply to a greeting command (EHLO/LHLO/CAPA), or undefined. */
  hello(line: string): string | undefined;
  ok: string;
  /** The first bytes of a reply that never ends. */
  half: string;
  disconnected: new (...args: never[]) => MailwireError;
  make(
    port: number,
    extra: { signal?: AbortSignal; logger?: (e: LogEntry) => void },
  ): Client;
}

const KINDS: Kind[] = [
  {
    name: "SmtpClient",
    protocol: "smtp",
    greeting: "220 fake ESMTP\r\n",
    hello: (l) =>
      l.startsWith("EHLO") ? "250-fake\r\n250 PIPELINING\r\n" : undefined,
    ok: "250 ok\r\n",
    half: "250-first line of many\r\n",
    disconnected: SmtpServerDisconnectedError,
    make: (port, extra) =>
      new SmtpClient({
        hostname: "127.0.0.1",
        port,
        tls: "none",
        timeout: 5000,
        ...extra,
      }),
  },
  {
    name: "LmtpClient",
    protocol: "lmtp",
    greeting: "220 fake LMTP\r\n",
    hello: (l) =>
      l.startsWith("LHLO") ? "250-fake\r\n250 PIPELINING\r\n" : undefined,
    ok: "250 ok\r\n",
    half: "250-first line of many\r\n",
    disconnected: SmtpServerDisconnectedError,
    make: (port, extra) =>
      new LmtpClient({ hostname: "127.0.0.1", port, timeout: 5000, ...extra }),
  },
  {
    name: "Pop3Client",
    protocol: "pop3",
    greeting: "+OK fake POP3\r\n",
    hello: () => undefined,
    ok: "+OK\r\n",
    half: "+O",
    disconnected: Pop3ServerDisconnectedError,
    make: (port, extra) =>
      new Pop3Client({
        hostname: "127.0.0.1",
        port,
        tls: "none",
        timeout: 5000,
        ...extra,
      }),
  },
];

/** A fake for `kind` whose n-th NOOP (from 0) is answered as `answers[n]` (default "ok"). */
async function fake(kind: Kind, answers: Answer[] = []) {
  const noops: string[] = [];
  const server = await fakeServer(async (peer: FakePeer) => {
    await peer.write(kind.greeting);
    for (;;) {
      const line = await peer.readLine(20_000);
      if (line === null) return;
      const hello = kind.hello(line);
      if (hello) {
        await peer.write(hello);
        continue;
      }
      if (line.toUpperCase() === "QUIT") {
        await peer.write(
          kind.protocol === "pop3" ? "+OK bye\r\n" : "221 bye\r\n",
        );
        peer.end();
        return;
      }
      if (line.toUpperCase() !== "NOOP") {
        await peer.write(
          kind.protocol === "pop3" ? "-ERR no\r\n" : "502 no\r\n",
        );
        continue;
      }
      const answer = answers[noops.length] ?? "ok";
      noops.push(line);
      if (answer === "ok") await peer.write(kind.ok);
      else if (answer === "late") {
        await new Promise((r) => setTimeout(r, 300));
        await peer.write(kind.ok);
      } else if (answer === "half") await peer.write(kind.half);
      // "never": say nothing; the client's deadline or abort ends it.
    }
  });
  return { server, noops };
}

for (const kind of KINDS) {
  test(`${kind.name}: abort while queued rejects at once, sends nothing, leaves the connection alone`, async () => {
    const { server, noops } = await fake(kind, ["late"]);
    await using _ = server;
    const client = kind.make(server.port, {});
    try {
      await client.connect();
      const first = client.noop();
      const ac = new AbortController();
      const second = client.noop({ signal: ac.signal });
      ac.abort("changed my mind");
      const { err, ms } = await timed(second);
      assert.ok(err instanceof AbortedError, `${err}`);
      assert.equal(err.cause, "changed my mind");
      assert.equal(err.phase, "noop");
      assert.ok(ms < 200, `${ms} ms`);
      await first;
      assert.equal(client.connected, true);
      assert.equal(noops.length, 1); // the aborted call never sent its NOOP
      await client.noop();
      assert.equal(noops.length, 2);
    } finally {
      await client.close();
    }
  });

  test(`${kind.name}: abort while running closes the connection with AbortedError`, async () => {
    const { server } = await fake(kind, ["never"]);
    await using _ = server;
    const client = kind.make(server.port, {});
    try {
      await client.connect();
      const ac = new AbortController();
      setTimeout(() => ac.abort("stop"), 50);
      const { err, ms } = await timed(client.noop({ signal: ac.signal }));
      assert.ok(err instanceof AbortedError, `${err}`);
      assert.equal(err.cause, "stop");
      assert.equal(err.phase, "noop");
      assert.equal(err.server, `127.0.0.1:${server.port}`);
      assert.match(
        err.message,
        new RegExp(`\\(${kind.protocol} 127\\.0\\.0\\.1:\\d+, noop\\)$`),
      );
      assert.ok(ms < 1000, `${ms} ms`);
      assert.equal(client.connected, false);
      assert.ok(
        await server.peers[0].waitClosed(2000),
        "the fake saw the close",
      );
    } finally {
      await client.close();
    }
  });

  test(`${kind.name}: the client's signal closes an idle connection, and every later call is AbortedError`, async () => {
    const { server, noops } = await fake(kind);
    await using _ = server;
    const ac = new AbortController();
    const client = kind.make(server.port, { signal: ac.signal });
    try {
      await client.connect();
      ac.abort("shutdown");
      assert.ok(await server.peers[0].waitClosed(2000), "closed when idle");
      assert.equal(client.connected, false);
      const { err } = await timed(client.noop());
      assert.ok(err instanceof AbortedError, `${err}`);
      assert.equal(err.cause, "shutdown");
      const again = await timed(client.connect());
      assert.ok(again.err instanceof AbortedError, `${again.err}`);
      assert.equal(noops.length, 0);
    } finally {
      await client.close();
    }
  });

  test(`${kind.name}: a timeout mid-reply is a TimeoutError within the call's bound, connection closed`, async () => {
    const { server } = await fake(kind, ["half"]);
    await using _ = server;
    const client = kind.make(server.port, {});
    try {
      await client.connect();
      const { err, ms } = await timed(client.noop({ timeout: 300 }));
      assert.ok(err instanceof TimeoutError, `${err}`);
      assert.equal(err.timeout, 300);
      assert.equal(err.phase, "noop");
      assert.ok(ms >= 290 && ms < 1500, `${ms} ms`);
      assert.equal(client.connected, false);
      assert.ok(await server.peers[0].waitClosed(2000));
    } finally {
      await client.close();
    }
  });

  test(`${kind.name}: close() during a call ends it promptly with the disconnected error`, async () => {
    const { server } = await fake(kind, ["never"]);
    await using _ = server;
    const client = kind.make(server.port, {});
    await client.connect();
    const pending = timed(client.noop());
    await new Promise((r) => setTimeout(r, 50));
    await client.close();
    const { err, ms } = await pending;
    assert.ok(err instanceof kind.disconnected, `${err}`);
    assert.ok(ms < 1500, `${ms} ms`);
    assert.equal(client.connected, false);
  });

  test(`${kind.name}: a call after close() is the disconnected error, nothing sent`, async () => {
    const { server, noops } = await fake(kind);
    await using _ = server;
    const client = kind.make(server.port, {});
    await client.connect();
    await client.close();
    const { err } = await timed(client.noop());
    assert.ok(err instanceof kind.disconnected, `${err}`);
    assert.match(
      (err as Error).message,
      /not connected; call connect\(\) first/,
    );
    assert.equal(noops.length, 0);
  });

  test(`${kind.name}: the transcript starts with the version and runtime, and logs the failure as an event`, async () => {
    const { server } = await fake(kind, ["half"]);
    await using _ = server;
    const log: LogEntry[] = [];
    const client = kind.make(server.port, { logger: (e) => log.push(e) });
    try {
      await client.connect();
      await timed(client.noop({ timeout: 200 }));
    } finally {
      await client.close();
    }
    assert.match(
      log[0].text,
      new RegExp(
        `^mailwire \\d+\\.\\d+\\.\\d+ on \\S+: ${kind.protocol} 127\\.0\\.0\\.1:\\d+ \\(tls: none\\)$`,
      ),
    );
    assert.equal(log[0].direction, "info");
    assert.ok(
      log.some((e) =>
        e.direction === "info" && /^failed: .*within 200 ms/.test(e.text)
      ),
      log.map((e) => e.text).join("\n"),
    );
  });
}

test("the transcript names the TLS version, cipher and certificate after a handshake (as far as the runtime tells)", async () => {
  await using fake = await smtpFake({ features: ["STARTTLS", "PIPELINING"] });
  const log: LogEntry[] = [];
  await using client = await SmtpClient.connect({
    hostname: "127.0.0.1",
    port: fake.port,
    servername: "localhost",
    caCerts: [fixture("ca.pem")],
    logger: (e) => log.push(e),
    timeout: 5000,
  });
  assert.equal(client.secure, true);
  const line = log.find((e) => e.text.startsWith("tls started"));
  assert.ok(line, log.map((e) => e.text).join("\n"));
  const info = client.tlsInfo;
  assert.ok(info, "tlsInfo after the upgrade");
  if (info.protocol) assert.ok(line.text.includes(info.protocol), line.text);
  if (info.cipher) assert.ok(line.text.includes(info.cipher), line.text);
  const leaf = info.peerCertificates?.[0];
  if (leaf?.subject) assert.match(line.text, /certificate .*localhost/);
  assert.match(line.text, /certificate verified$/);
});
