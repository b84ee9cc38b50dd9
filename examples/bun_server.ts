/**
 * A Bun HTTP server with a contact form that relays each submission over
 * SMTP through one SmtpPool: connections are opened once and reused, the
 * credentials are checked at startup (a wrong password stops the server
 * before it listens), and SIGINT/SIGTERM let queued messages finish.
 *
 *   SMTP_HOST=smtp.example.com SMTP_USER=me@example.com SMTP_PASSWORD=... \
 *     CONTACT_TO=inbox@example.com bun examples/bun_server.ts
 *
 *   curl -F name=Ana -F email=ana@example.org -F message=Hello localhost:3000
 *
 * Optional: SMTP_PORT (587), SMTP_CA_FILE (a private CA, PEM), PORT (3000;
 * 0 picks a free one, printed as "listening on N").
 */
import { SmtpPool } from "../smtp/mod.ts";

const env = process.env;
const user = env.SMTP_USER;
const password = env.SMTP_PASSWORD;
const to = env.CONTACT_TO;
if (!user || !password || !to) {
  console.error("set SMTP_USER, SMTP_PASSWORD and CONTACT_TO");
  process.exit(2);
}

const pool = new SmtpPool({
  hostname: env.SMTP_HOST ?? "localhost",
  port: Number(env.SMTP_PORT ?? 587),
  caCerts: env.SMTP_CA_FILE
    ? [await Bun.file(env.SMTP_CA_FILE).text()]
    : undefined,
  auth: { username: user, password },
  maxConnections: 2,
  timeout: 15_000,
});
try {
  await pool.connect(); // a bad host, certificate or password fails here
} catch (err) {
  await pool.close();
  console.error(`cannot send mail: ${(err as Error).message}`);
  process.exit(1);
}

/** One form field as a single line of at most `max` characters. */
function field(form: FormData, name: string, max: number): string {
  const value = form.get(name);
  return typeof value === "string" ? value.slice(0, max) : "";
}

const server = Bun.serve({
  port: Number(env.PORT ?? 3000),
  async fetch(req) {
    if (req.method !== "POST") {
      return new Response("POST a form: name, email, message\n", {
        status: 405,
      });
    }
    let form: FormData;
    try {
      form = await req.formData();
    } catch {
      return new Response("expected a form\n", { status: 400 });
    }
    const name = field(form, "name", 100).replace(/[\r\n\0]/g, " ");
    const email = field(form, "email", 254);
    const message = field(form, "message", 10_000);
    if (!message) return new Response("message is empty\n", { status: 400 });
    try {
      const { messageId } = await pool.send({
        from: {
          name: `${name || "someone"} via the contact form`,
          address: user,
        },
        // An address the composer refuses (CR, LF, no @) is a 400 below.
        replyTo: email || undefined,
        to,
        subject: `contact form: ${name || "(no name)"}`,
        text: message,
        signal: req.signal, // withdrawn if the visitor goes away first
      });
      return new Response(`sent ${messageId}\n`);
    } catch (err) {
      const e = err as Error;
      const status = e.name === "InvalidInputError" || e.name === "TypeError"
        ? 400
        : 502;
      return new Response(`not sent: ${e.message}\n`, { status });
    }
  },
});
console.log(`listening on ${server.port}`);

async function shutdown() {
  await server.stop(); // no new requests; running ones finish
  await pool.close(); // queued messages finish, then QUIT
  process.exit(0);
}
process.on("SIGINT", shutdown);
process.on("SIGTERM", shutdown);
