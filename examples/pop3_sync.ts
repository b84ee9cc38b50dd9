/**
 * A Deno script that syncs a POP3 mailbox into a directory of `.eml` files
 * named by UIDL, skipping messages already saved (run it again: only new
 * mail is fetched), and prints each new message's sender and subject.
 * Nothing is deleted on the server.
 *
 *   POP3_HOST=pop.example.com POP3_USER=me@example.com POP3_PASSWORD=... \
 *     deno run --allow-net --allow-env --allow-read --allow-write examples/pop3_sync.ts ./mail
 *
 * Optional: POP3_PORT (110, STLS; 995 for implicit TLS), POP3_CA_FILE (a
 * private CA, PEM).
 */
import { parseMessage } from "../message/mod.ts";
import { Pop3Client } from "../pop3/mod.ts";

const dir = Deno.args[0];
const user = Deno.env.get("POP3_USER");
const password = Deno.env.get("POP3_PASSWORD");
if (!dir || !user || !password) {
  console.error("usage: POP3_USER=... POP3_PASSWORD=... pop3_sync.ts <dir>");
  Deno.exit(2);
}
await Deno.mkdir(dir, { recursive: true });
const saved = new Set<string>();
for await (const entry of Deno.readDir(dir)) {
  if (entry.name.endsWith(".eml")) saved.add(entry.name.slice(0, -4));
}
const caFile = Deno.env.get("POP3_CA_FILE");
const port = Number(Deno.env.get("POP3_PORT") ?? 110);
await using pop = await Pop3Client.connect({
  hostname: Deno.env.get("POP3_HOST") ?? "localhost",
  port,
  caCerts: caFile ? [await Deno.readTextFile(caFile)] : undefined,
  auth: { username: user, password },
});
// UIDs are printable ASCII (the client refuses anything else); keep file names tame.
const fileName = (uid: string) => uid.replace(/[^A-Za-z0-9._-]/g, "_");
const fresh = (await pop.listing()).filter((m) => !saved.has(fileName(m.uid)));
for (const { id, uid } of fresh) {
  const raw = await pop.retr(id);
  const tmp = `${dir}/.${fileName(uid)}.tmp`;
  await Deno.writeFile(tmp, raw);
  await Deno.rename(tmp, `${dir}/${fileName(uid)}.eml`); // appears whole or not at all
  const message = await parseMessage(raw);
  console.log(
    `${uid}\t${message.from?.address ?? "?"}\t${message.subject ?? ""}`,
  );
}
console.log(`${fresh.length} new message(s)`);
