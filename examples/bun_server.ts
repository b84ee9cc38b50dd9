/**
 * A Bun HTTP server with a contact form endpoint that relays messages over
 * SMTP. Each request opens its own connection; `await using` closes it.
 *
 *   SMTP_HOST=... SMTP_USER=... SMTP_PASSWORD=... CONTACT_TO=... bun examples/bun_server.ts
 */
import { SmtpClient } from "../smtp/mod.ts";

const env = process.env;

Bun.serve({
  port: Number(env.PORT ?? 3000),
  async fetch(req) {
    if (req.method !== "POST") {
      return new Response("POST a message", { status: 405 });
    }
    const text = (await req.text()).slice(0, 10_000);
    await using smtp = await SmtpClient.connect({
      hostname: env.SMTP_HOST ?? "localhost",
      port: Number(env.SMTP_PORT ?? 587),
      auth: { username: env.SMTP_USER!, password: env.SMTP_PASSWORD! },
      timeout: 10_000,
      signal: req.signal,
    });
    await smtp.sendMail({
      from: env.SMTP_USER!,
      to: env.CONTACT_TO!,
      data:
        `From: ${env.SMTP_USER}\r\nTo: ${env.CONTACT_TO}\r\nSubject: contact form\r\n\r\n${text}\r\n`,
    });
    return new Response("sent\n");
  },
});
