/**
 * A Cloudflare Worker that sends one message per authorised POST request,
 * over `cloudflare:sockets` (no `nodejs_compat` flag needed).
 *
 * Locally, with workerd (config beside this file):
 *
 *   bun build --target=browser --format=esm --external cloudflare:sockets \
 *     examples/worker.ts --outfile examples/worker.js
 *   SMTP_HOST=smtp.example.com SMTP_PORT=587 SMTP_USER=me@example.com \
 *   SMTP_PASSWORD=... MAIL_FROM=me@example.com MAIL_TO=you@example.com \
 *   SEND_TOKEN=some-long-secret workerd serve examples/worker.capnp
 *   curl -H 'authorization: Bearer some-long-secret' \
 *     -d '{"subject":"hi","text":"hello"}' http://localhost:8080/send
 *
 * On Cloudflare, deploy the same module with these names as vars/secrets
 * (in your own code, import from "@mailwire/mailwire/smtp" and
 * "@mailwire/mailwire/tls"). The recipient is fixed by MAIL_TO: the
 * endpoint can't be turned into an open relay.
 */
import { connect } from "cloudflare:sockets";
import { SmtpClient } from "../smtp/mod.ts";
import { cloudflareConnector } from "../tls/mod.ts";

interface Env {
  SMTP_HOST: string;
  /** 587 (STARTTLS, the default) or 465 (implicit TLS). */
  SMTP_PORT?: string;
  SMTP_USER: string;
  SMTP_PASSWORD: string;
  MAIL_FROM: string;
  MAIL_TO: string;
  /** Requests must carry `authorization: Bearer <SEND_TOKEN>`. */
  SEND_TOKEN: string;
}

/** One header value: no CR/LF (header injection), at most 200 characters. */
function headerValue(value: unknown): string {
  const text = typeof value === "string" ? value : "";
  return text.replace(/[\r\n]+/g, " ").slice(0, 200);
}

export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    const url = new URL(request.url);
    if (request.method !== "POST" || url.pathname !== "/send") {
      return new Response("POST /send\n", { status: 404 });
    }
    if (
      !env.SEND_TOKEN ||
      request.headers.get("authorization") !== `Bearer ${env.SEND_TOKEN}`
    ) {
      return new Response("unauthorised\n", { status: 401 });
    }
    const body = await request.json().catch(() => ({})) as {
      subject?: unknown;
      text?: unknown;
    };
    try {
      return await send(env, body);
    } catch (error) {
      // mailwire's messages name host, port and phase, never a secret.
      const { name, message } = error as Error;
      return Response.json({ sent: false, error: name, message }, {
        status: 502,
      });
    }
  },
};

/** Sends the message of one request. */
async function send(
  env: Env,
  body: { subject?: unknown; text?: unknown },
): Promise<Response> {
  const port = Number(env.SMTP_PORT ?? 587);
  const smtp = await SmtpClient.connect({
    hostname: env.SMTP_HOST,
    port,
    tls: port === 465 ? "implicit" : "starttls",
    auth: { username: env.SMTP_USER, password: env.SMTP_PASSWORD },
    connector: cloudflareConnector(connect),
    timeout: 20_000,
  });
  try {
    const text = typeof body.text === "string" ? body.text : "";
    const { refused } = await smtp.sendMail({
      from: env.MAIL_FROM,
      to: [env.MAIL_TO],
      data: `From: <${env.MAIL_FROM}>\r\nTo: <${env.MAIL_TO}>\r\n` +
        `Subject: ${headerValue(body.subject)}\r\n\r\n${text}\r\n`,
    });
    return Response.json({
      sent: refused.size === 0,
      refused: [...refused.keys()],
    });
  } finally {
    await smtp.quit();
  }
}
