/**
 * A Deno script that sends one message: composed (From, Date, Message-ID,
 * encoded words), sent over STARTTLS with AUTH, verified certificates.
 *
 *   SMTP_HOST=smtp.example.com SMTP_USER=me@example.com SMTP_PASSWORD=... \
 *     deno run --allow-net --allow-env --allow-read examples/deno_script.ts you@example.com [file...]
 *
 * Optional: SMTP_PORT (587), SMTP_CA_FILE (a private CA, PEM), SMTP_DEBUG=1
 * (print the redacted transcript). Files given after the recipient are
 * attached, streamed from disk.
 */
import { consoleLogger, SmtpClient } from "../smtp/mod.ts";

const [to, ...files] = Deno.args;
if (!to) {
  console.error("usage: deno_script.ts <recipient> [file...]");
  Deno.exit(2);
}
const user = Deno.env.get("SMTP_USER");
const password = Deno.env.get("SMTP_PASSWORD");
if (!user || !password) {
  console.error("set SMTP_USER and SMTP_PASSWORD");
  Deno.exit(2);
}
const caFile = Deno.env.get("SMTP_CA_FILE");
await using smtp = await SmtpClient.connect({
  hostname: Deno.env.get("SMTP_HOST") ?? "localhost",
  port: Number(Deno.env.get("SMTP_PORT") ?? 587),
  caCerts: caFile ? [await Deno.readTextFile(caFile)] : undefined,
  auth: { username: user, password },
  logger: Deno.env.get("SMTP_DEBUG") ? consoleLogger : undefined,
});
const attachments = await Promise.all(files.map(async (path) => ({
  filename: path.split("/").pop(),
  content: (await Deno.open(path)).readable,
})));
const { accepted, refused } = await smtp.send({
  from: user,
  to,
  subject: "hello from Deno",
  text: "Sent with mailwire.",
  attachments,
});
console.log(
  refused.size
    ? `refused: ${[...refused.keys()].join(", ")}`
    : `sent to ${accepted.join(", ")}`,
);
