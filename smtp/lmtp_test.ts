import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LmtpClient } from "./lmtp.ts";
import { SmtpClient } from "./client.ts";
import type { SmtpClientOptions } from "./options.ts";
import {
  SmtpDataError,
  SmtpHeloError,
  SmtpNotSupportedError,
  SmtpOutcomeUnknownError,
  SmtpRecipientsRefusedError,
} from "./errors.ts";
import {
  failure,
  type SmtpFake,
  smtpFake,
  type SmtpFakeOptions,
} from "../tests/fakes/smtp_fake.ts";

const MSG = "Subject: hi\r\n\r\nHello\r\n";
/** The delivery rules hold pipelined and one command at a time (two code paths). */
const MODES: [string, string[]][] = [
  ["pipelined", ["PIPELINING"]],
  ["one command at a time", []],
];

async function withLmtp(
  fakeOptions: SmtpFakeOptions,
  clientOptions: SmtpClientOptions,
  body: (client: LmtpClient, fake: SmtpFake) => Promise<void>,
): Promise<void> {
  const fake = await smtpFake({ lmtp: true, ...fakeOptions });
  const client = new LmtpClient({
    hostname: "127.0.0.1",
    port: fake.port,
    timeout: 3000,
    ...clientOptions,
  });
  try {
    await client.connect();
    await body(client, fake);
  } finally {
    await client.close();
    await fake.close();
  }
}

test("lmtp: is an SmtpClient, in clear by default; LHLO, not EHLO", async () => {
  await withLmtp(
    { features: ["PIPELINING", "ENHANCEDSTATUSCODES"] },
    {},
    async (client, fake) => {
      assert.ok(client instanceof SmtpClient);
      assert.equal(client.secure, false);
      await client.ehloOrHelo();
      assert.deepEqual(fake.commands, ["LHLO localhost"]);
      assert.ok(client.hasExtension("PIPELINING"));
      await failure(client.helo(), SmtpNotSupportedError);
    },
  );
});

test("lmtp: LmtpClient.connect returns an LmtpClient", async () => {
  const fake = await smtpFake({ lmtp: true });
  try {
    const client = await LmtpClient.connect({
      hostname: "127.0.0.1",
      port: fake.port,
      timeout: 3000,
    });
    try {
      assert.ok(client instanceof LmtpClient);
      await client.sendMail({ from: "a@x.test", to: "b@x.test", data: MSG });
      assert.equal(fake.commands[0], "LHLO localhost");
    } finally {
      await client.quit();
    }
  } finally {
    await fake.close();
  }
});

test("lmtp: LHLO refused is SmtpHeloError without a HELO fallback", async () => {
  const fake = await smtpFake({
    lmtp: true,
    hook: (line) => line.startsWith("LHLO") ? "500 5.5.1 no\r\n" : undefined,
  });
  try {
    const { err } = await failure(
      LmtpClient.connect({
        hostname: "127.0.0.1",
        port: fake.port,
        timeout: 3000,
      }),
      SmtpHeloError,
    );
    assert.equal(err.code, 500);
    assert.deepEqual(fake.commands, ["LHLO localhost"]);
  } finally {
    await fake.close();
  }
});

for (const pipelining of [true, false]) {
  test(
    `lmtp: one reply per accepted recipient after DATA, in order (${
      pipelining ? "pipelined" : "one at a time"
    })`,
    async () => {
      await withLmtp(
        {
          features: pipelining ? ["PIPELINING"] : [],
          hook: (line, ctx) => {
            if (
              line === "RCPT TO:<refused@x.test>"
            ) return "550 5.1.1 unknown\r\n";
            if (line === ".") {
              assert.equal(ctx.accepted.length, 3);
              return "250 2.0.0 <b@x.test> delivered\r\n" +
                "452 4.2.2 <c@x.test> mailbox full\r\n" +
                "250 2.0.0 <d@x.test> delivered\r\n";
            }
          },
        },
        {},
        async (client) => {
          const res = await client.sendMail({
            from: "a@x.test",
            to: ["b@x.test", "refused@x.test", "c@x.test", "d@x.test"],
            data: MSG,
          });
          assert.deepEqual(res.accepted, ["b@x.test", "d@x.test"]);
          assert.deepEqual([...res.refused.keys()], [
            "refused@x.test",
            "c@x.test",
          ]);
          assert.equal(res.refused.get("refused@x.test")?.code, 550);
          assert.equal(res.refused.get("c@x.test")?.code, 452);
          assert.equal(res.refused.get("c@x.test")?.enhancedCode, "4.2.2");
          const deliveries = res.deliveries!;
          assert.deepEqual([...deliveries.keys()], [
            "b@x.test",
            "c@x.test",
            "d@x.test",
          ]);
          assert.equal(
            deliveries.get("b@x.test")?.text,
            "2.0.0 <b@x.test> delivered",
          );
          assert.equal(deliveries.get("c@x.test")?.code, 452);
          assert.equal(res.reply, deliveries.get("d@x.test"));
          // In sync afterwards: the next command gets its own reply.
          const noop = await client.noop();
          assert.equal(noop.code, 250);
          assert.equal(noop.text, "ok");
        },
      );
    },
  );
}

test("lmtp: replies split across writes are all read (no desync)", async () => {
  await withLmtp(
    {
      hook: async (line, ctx) => {
        if (line !== ".") return undefined;
        await ctx.peer.write("250 2.0.0 one\r\n");
        await new Promise((r) => setTimeout(r, 30));
        await ctx.peer.write("250-2.0.0 two\r\n");
        await new Promise((r) => setTimeout(r, 30));
        await ctx.peer.write("250 2.0.0 two, second line\r\n");
        return null;
      },
    },
    {},
    async (client) => {
      const res = await client.sendMail({
        from: "a@x.test",
        to: ["b@x.test", "c@x.test"],
        data: MSG,
      });
      assert.deepEqual(res.deliveries?.get("c@x.test")?.lines, [
        "2.0.0 two",
        "2.0.0 two, second line",
      ]);
      assert.equal((await client.noop()).text, "ok");
    },
  );
});

for (const [mode, features] of MODES) {
  test(`lmtp: every recipient failing at the data stage is SmtpRecipientsRefusedError (${mode})`, async () => {
    await withLmtp(
      {
        features,
        hook: (line, ctx) =>
          line === "."
            ? ctx.accepted.map(() => "550 5.2.2 over quota\r\n").join("")
            : undefined,
      },
      {},
      async (client) => {
        const { err } = await failure(
          client.sendMail({
            from: "a@x.test",
            to: ["b@x.test", "c@x.test"],
            data: MSG,
          }),
          SmtpRecipientsRefusedError,
        );
        assert.deepEqual([...err.recipients.keys()], ["b@x.test", "c@x.test"]);
        assert.equal(err.recipients.get("c@x.test")?.enhancedCode, "5.2.2");
        assert.equal((await client.noop()).code, 250);
      },
    );
  });
}

test("lmtp: every RCPT refused: SmtpRecipientsRefusedError, no data", async () => {
  await withLmtp(
    {
      hook: (line) => {
        if (line.startsWith("RCPT")) return "550 nope\r\n";
        if (line === "DATA") return "503 5.5.1 no valid recipients\r\n";
      },
    },
    {},
    async (client, fake) => {
      await failure(
        client.sendMail({ from: "a@x.test", to: "b@x.test", data: MSG }),
        SmtpRecipientsRefusedError,
      );
      assert.equal(fake.messages.length, 0);
      assert.equal(fake.commands.at(-1), "RSET");
    },
  );
});

test("lmtp: with CHUNKING, one reply per recipient after BDAT LAST", async () => {
  await withLmtp(
    {
      features: ["PIPELINING", "CHUNKING"],
      hook: (line, ctx) =>
        line.startsWith("BDAT")
          ? ctx.accepted.map((_, i) =>
            i === 1 ? "450 4.2.0 later\r\n" : `250 2.0.0 ok ${i}\r\n`
          ).join("")
          : undefined,
    },
    {},
    async (client, fake) => {
      const res = await client.sendMail({
        from: "a@x.test",
        to: ["b@x.test", "c@x.test", "d@x.test"],
        data: MSG,
      });
      assert.deepEqual(res.accepted, ["b@x.test", "d@x.test"]);
      assert.equal(res.refused.get("c@x.test")?.code, 450);
      assert.equal(res.deliveries?.size, 3);
      assert.equal(fake.messages[0].data, MSG);
      assert.equal((await client.noop()).text, "ok");
    },
  );
});

for (const [mode, features] of MODES) {
  test(`lmtp: connection lost after the first of several delivery replies: the delivery is reported, the rest unknown (${mode})`, async () => {
    await withLmtp(
      {
        features,
        hook: async (line, ctx) => {
          if (line !== ".") return undefined;
          await ctx.peer.write("250 2.0.0 one\r\n");
          return "close";
        },
      },
      {},
      async (client) => {
        const res = await client.sendMail({
          from: "a@x.test",
          to: ["b@x.test", "c@x.test"],
          data: MSG,
        });
        assert.deepEqual(res.accepted, ["b@x.test"]);
        assert.deepEqual(res.unknown, ["c@x.test"]);
        assert.equal(res.refused.size, 0);
        assert.equal(res.deliveries?.get("b@x.test")?.code, 250);
        assert.equal(client.connected, false);
      },
    );
  });
}

for (const [mode, features] of MODES) {
  test(`lmtp: 250 for one recipient then 421 for the next: delivered, refused (421), unknown; never an error hiding the delivery (${mode})`, async () => {
    await withLmtp(
      {
        features,
        hook: async (line, ctx) => {
          if (line !== ".") return undefined;
          await ctx.peer.write("250 2.0.0 one\r\n421 4.3.0 shutting down\r\n");
          return "close";
        },
      },
      {},
      async (client) => {
        const res = await client.sendMail({
          from: "a@x.test",
          to: ["b@x.test", "c@x.test", "d@x.test"],
          data: MSG,
        });
        assert.deepEqual(res.accepted, ["b@x.test"]);
        assert.equal(res.refused.get("c@x.test")?.code, 421);
        assert.deepEqual(res.unknown, ["d@x.test"]);
        assert.equal(client.connected, false);
      },
    );
  });
}

for (const [mode, features] of MODES) {
  test(`lmtp: no reply at all after the data is SmtpOutcomeUnknownError naming every recipient (${mode})`, async () => {
    await withLmtp(
      { features, hook: (line) => line === "." ? "close" : undefined },
      {},
      async (client) => {
        const { err } = await failure(
          client.sendMail({
            from: "a@x.test",
            to: ["b@x.test", "c@x.test"],
            data: MSG,
          }),
          SmtpOutcomeUnknownError,
        );
        assert.deepEqual(err.recipients, ["b@x.test", "c@x.test"]);
        assert.equal(client.connected, false);
      },
    );
  });
}

test("lmtp: over a unix socket (path)", async () => {
  const dir = mkdtempSync(join(tmpdir(), "mailwire-lmtp-"));
  const path = join(dir, "lmtp.sock");
  const received: string[] = [];
  const server = net.createServer((socket) => {
    let buf = "";
    let inData = false;
    socket.write("220 lmtp.test LMTP ready\r\n");
    socket.on("data", (chunk) => {
      buf += chunk.toString("utf8");
      for (let at = buf.indexOf("\r\n"); at >= 0; at = buf.indexOf("\r\n")) {
        const line = buf.slice(0, at);
        buf = buf.slice(at + 2);
        received.push(line);
        if (inData) {
          if (line === ".") {
            inData = false;
            socket.write("250 2.0.0 <b@x.test> saved\r\n");
          }
        } else if (line.startsWith("LHLO")) {
          socket.write("250-lmtp.test\r\n250 PIPELINING\r\n");
        } else if (line === "DATA") {
          inData = true;
          socket.write("354 go\r\n");
        } else if (line === "QUIT") {
          socket.end("221 bye\r\n");
        } else socket.write("250 ok\r\n");
      }
    });
    socket.on("error", () => {});
  });
  await new Promise<void>((resolve) => server.listen(path, resolve));
  try {
    const client = await LmtpClient.connect({ path, timeout: 3000 });
    try {
      const res = await client.sendMail({
        from: "a@x.test",
        to: "b@x.test",
        data: MSG,
      });
      assert.equal(
        res.deliveries?.get("b@x.test")?.text,
        "2.0.0 <b@x.test> saved",
      );
      assert.equal((await client.quit())?.code, 221);
    } finally {
      await client.close();
    }
    assert.deepEqual(received, [
      "LHLO localhost",
      "MAIL FROM:<a@x.test>",
      "RCPT TO:<b@x.test>",
      "DATA",
      "Subject: hi",
      "",
      "Hello",
      ".",
      "QUIT",
    ]);
  } finally {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    rmSync(dir, { recursive: true, force: true });
  }
});

test("lmtp: data() by hand reads one reply per accepted RCPT (no desync, cpython#76984)", async () => {
  await withLmtp(
    {
      hook: (line) => {
        if (line === "RCPT TO:<refused@x.test>") return "550 5.1.1 unknown\r\n";
        if (line === ".") {
          return "250 2.0.0 <b@x.test> ok\r\n250 2.0.0 <c@x.test> ok\r\n";
        }
      },
    },
    {},
    async (client) => {
      await client.mail("a@x.test");
      await client.rcpt("b@x.test");
      assert.equal((await client.rcpt("refused@x.test")).code, 550);
      await client.rcpt("c@x.test");
      const reply = await client.data(MSG);
      assert.equal(reply.text, "2.0.0 <c@x.test> ok");
      const noop = await client.noop();
      assert.equal(noop.text, "ok", "the NOOP got its own reply");
    },
  );
});

test("lmtp: data() by hand with a failed delivery is SmtpDataError, still in sync", async () => {
  await withLmtp(
    {
      hook: (line) =>
        line === "."
          ? "452 4.2.2 <b@x.test> full\r\n250 2.0.0 <c@x.test> ok\r\n"
          : undefined,
    },
    {},
    async (client) => {
      await client.mail("a@x.test");
      await client.rcpt("b@x.test");
      await client.rcpt("c@x.test");
      const { err } = await failure(client.data(MSG), SmtpDataError);
      assert.equal(err.code, 452);
      assert.equal((await client.noop()).text, "ok");
    },
  );
});

test("lmtp: bdat(last) by hand reads one reply per accepted RCPT", async () => {
  await withLmtp({ features: ["CHUNKING"] }, {}, async (client) => {
    await client.mail("a@x.test");
    await client.rcpt("b@x.test");
    await client.rcpt("c@x.test");
    const reply = await client.bdat(new TextEncoder().encode(MSG), {
      last: true,
    });
    assert.equal(reply.code, 250);
    assert.equal((await client.noop()).text, "ok");
  });
});
