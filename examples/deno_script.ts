/**
 * A Deno script that sends one message.
 *
 *   SMTP_HOST=smtp.example.com SMTP_USER=me@example.com SMTP_PASSWORD=... \
 *     deno run --allow-net --allow-env examples/deno_script.ts you@example.com
 */
import { consoleLogger, SmtpClient } from "../smtp/mod.ts";

const to = Deno.args[0];
if (!to) {
  console.error("usage: deno_script.ts <recipient>");
  Deno.exit(2);
}
const user = Deno.env.get("SMTP_USER")!;
await using smtp = await SmtpClient.connect({
  hostname: Deno.env.get("SMTP_HOST") ?? "localhost",
  port: Number(Deno.env.get("SMTP_PORT") ?? 587),
  auth: { username: user, password: Deno.env.get("SMTP_PASSWORD")! },
  logger: Deno.env.get("SMTP_DEBUG") ? consoleLogger : undefined,
});
const { refused } = await smtp.sendMessage(
  `From: ${user}\r\nTo: ${to}\r\nSubject: hello from Deno\r\n\r\nSent with mailwire.\r\n`,
);
console.log(refused.size ? `refused: ${[...refused.keys()]}` : "sent");
await smtp.quit();
