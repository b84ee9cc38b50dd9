// Waits until every listener of the test servers answers with its greeting.
// Usage: node probe.mjs <caFile> <timeoutSeconds> <spec>...
//   spec = name=host:port:plain|tls:expectedPrefix   (TCP)
//        | name=unix:/path/to/socket:plain:expectedPrefix
// TLS listeners are verified against caFile with servername "localhost".
// Exits 0 when all greeted, 1 (listing the failures) when the deadline passes.
import net from "node:net";
import tls from "node:tls";
import { readFileSync } from "node:fs";

const [caFile, timeoutArg, ...specs] = process.argv.slice(2);
const ca = readFileSync(caFile);
const deadline = Date.now() + Number(timeoutArg) * 1000;

function parse(spec) {
  const eq = spec.indexOf("=");
  const name = spec.slice(0, eq);
  const parts = spec.slice(eq + 1).split(":");
  const expect = parts.pop();
  const mode = parts.pop();
  if (parts[0] === "unix") {
    return { name, path: parts.slice(1).join(":"), mode, expect };
  }
  const port = Number(parts.pop());
  return { name, host: parts.join(":"), port, mode, expect };
}

function greet(t) {
  return new Promise((resolve) => {
    let buf = "";
    let done = false;
    const finish = (ok, why) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      resolve({ ok, why });
    };
    const opts = t.path ? { path: t.path } : { host: t.host, port: t.port };
    const sock = t.mode === "tls"
      ? tls.connect({ ...opts, ca, servername: "localhost" })
      : net.connect(opts);
    const timer = setTimeout(
      () => finish(false, "no greeting within 3 s"),
      3000,
    );
    sock.setEncoding("utf8");
    sock.on("error", (e) => finish(false, e.code || e.message));
    sock.on("data", (d) => {
      buf += d;
      const nl = buf.indexOf("\n");
      if (nl < 0) return;
      const line = buf.slice(0, nl).trimEnd();
      if (line.startsWith(t.expect)) {
        sock.write("QUIT\r\n");
        finish(true, line);
      } else finish(false, `unexpected greeting: ${line}`);
    });
  });
}

const targets = specs.map(parse);
const pending = new Map(targets.map((t) => [t.name, t]));
const lastError = new Map();
while (pending.size > 0 && Date.now() < deadline) {
  const results = await Promise.all(
    [...pending.values()].map(async (t) => [t, await greet(t)]),
  );
  for (const [t, r] of results) {
    if (r.ok) pending.delete(t.name);
    else lastError.set(t.name, r.why);
  }
  if (pending.size > 0) await new Promise((r) => setTimeout(r, 200));
}
if (pending.size > 0) {
  for (const t of pending.values()) {
    console.error(
      `not ready: ${t.name} (${t.path ?? `${t.host}:${t.port}`}): ${
        lastError.get(t.name)
      }`,
    );
  }
  process.exit(1);
}
