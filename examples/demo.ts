/**
 * `npm run demo`: a real exchange against an embedded test mail server (no
 * root, no network): SMTP STARTTLS + AUTH send, then POP3 STLS read-back,
 * printing the transcript with secrets redacted.
 *
 * Runs on Deno (`deno run -A examples/demo.ts`) and Bun
 * (`bun examples/demo.ts`). The server is `tests/fakes/mail_server.mjs`,
 * started as a Node child process with the test-only certificate.
 */
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { LogEntry } from "../io/log.ts";
import { composeMessage, parseMessage } from "../message/mod.ts";
import { Pop3Client } from "../pop3/mod.ts";
import { SmtpClient } from "../smtp/mod.ts";

const root = new URL("../", import.meta.url);
const ca = readFileSync(new URL("tests/fixtures/ca.pem", root), "utf8");
const user = "alice@mail.test";
const password = "alice-secret-1";

// 1. The embedded server: in-memory SMTP + POP3, STARTTLS/STLS required before AUTH.
const server = spawn(
  "node",
  [fileURLToPath(new URL("tests/fakes/mail_server.mjs", root))],
  { stdio: ["pipe", "pipe", "inherit"] },
);
const ports = await new Promise<{ smtpPort: number; pop3Port: number }>(
  (resolve, reject) => {
    let out = "";
    server.stdout!.on("data", (chunk: Uint8Array) => {
      out += new TextDecoder().decode(chunk);
      const nl = out.indexOf("\n");
      if (nl >= 0) resolve(JSON.parse(out.slice(0, nl)));
    });
    server.once("exit", (code) => reject(new Error(`server exited (${code})`)));
    setTimeout(() => reject(new Error("server did not start")), 10_000);
  },
);

// 2. One transcript for both clients; secrets are redacted by mailwire itself.
const transcript: string[] = [];
const logger = (proto: string) => (e: LogEntry) => {
  const tag = e.direction === "client"
    ? "C:"
    : e.direction === "server"
    ? "S:"
    : "--";
  const line = `${
    e.time.toISOString().slice(11, 23)
  } ${proto} ${tag} ${e.text}`;
  transcript.push(line);
  console.log(line);
};

// A composed message: From, To, Date, Message-ID, MIME, encoded words.
const message = composeMessage({
  from: { name: "Alice", address: user },
  to: { name: "Alice", address: user },
  subject: `mailwire demo — ${new Date().toISOString()}`,
  text:
    "Hello from mailwire.\n.a line starting with a dot survives the round trip\n",
  attachments: [{ filename: "hello.txt", content: "attached\n" }],
});
const sent = await message.bytes();

let failed = false;
try {
  console.log("== SMTP: STARTTLS, AUTH, send");
  {
    await using smtp = await SmtpClient.connect({
      hostname: "127.0.0.1",
      port: ports.smtpPort,
      tls: "starttls",
      caCerts: [ca],
      auth: { username: user, password },
      logger: logger("smtp"),
      timeout: 10_000,
    });
    const result = await smtp.sendMessage(message);
    console.log(
      `-- accepted ${
        result.accepted.join(", ")
      }: ${result.reply.code} ${result.reply.text}`,
    );
    await smtp.quit();
  }

  console.log("\n== POP3: STLS, login, read back, delete");
  {
    await using pop = await Pop3Client.connect({
      hostname: "127.0.0.1",
      port: ports.pop3Port,
      tls: "starttls",
      caCerts: [ca],
      auth: { username: user, password },
      logger: logger("pop3"),
      timeout: 10_000,
    });
    const { count } = await pop.stat();
    const bytes = await pop.retr(count);
    const same = bytes.length === sent.length &&
      bytes.every((b, i) => b === sent[i]);
    const parsed = await parseMessage(bytes);
    console.log(
      `-- message ${count}: ${bytes.length} bytes, ${
        same ? "identical to what was sent" : "DIFFERENT from what was sent"
      }; subject ${
        JSON.stringify(parsed.subject)
      }, ${parsed.attachments.length} attachment`,
    );
    if (!same) failed = true;
    await pop.dele(count);
    await pop.quit();
  }

  const leaked = transcript.filter((l) =>
    l.includes(password) || l.includes(btoa(`\0${user}\0${password}`))
  );
  console.log(
    `\n== transcript: ${transcript.length} lines, ${leaked.length} with a secret`,
  );
  if (leaked.length) failed = true;
} catch (err) {
  failed = true;
  console.error("demo failed:", err);
} finally {
  server.kill("SIGTERM");
}
if (failed) {
  console.error("demo: FAILED");
  (globalThis as { process?: { exitCode?: number } }).process!.exitCode = 1;
} else {
  console.log("demo: ok");
}
