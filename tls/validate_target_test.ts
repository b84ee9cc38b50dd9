import { test } from "node:test";
import assert from "node:assert/strict";
import { validateTarget } from "./validate_target.ts";
import type { ConnectTarget } from "./conn.ts";
import { InvalidInputError } from "../errors.ts";

const base: ConnectTarget = {
  hostname: "mail.example.com",
  port: 587,
  tls: "none",
};
const refused = (extra: Partial<ConnectTarget>, message: RegExp) =>
  assert.throws(() => validateTarget({ ...base, ...extra }), (error) => {
    assert.ok(error instanceof InvalidInputError, String(error));
    assert.match(error.message, message);
    return true;
  });

test("validateTarget accepts ordinary targets", () => {
  for (
    const extra of [
      {},
      { port: 1 },
      { port: 65535 },
      { hostname: "::1" },
      { hostname: "127.0.0.1", localAddress: "127.0.0.2", localPort: 40000 },
      { localAddress: "::1" },
      { tls: "implicit" as const, servername: "mail.test", caCerts: ["pem"] },
      { tls: "starttls-capable" as const },
      { path: "/run/dovecot/lmtp", port: 0 },
    ]
  ) {
    validateTarget({ ...base, ...extra });
  }
});

test("validateTarget: ports are integers from 1 to 65535", () => {
  for (const port of [0, -1, 65536, 70000, 1.5, Number.NaN, Infinity]) {
    refused(
      { port },
      /^invalid connect target: port must be an integer from 1 to 65535 \(got /,
    );
  }
  refused({ port: "25" as unknown as number }, /\(got "25"\)$/);
  refused({ localPort: 70000 }, /localPort must be an integer/);
});

test("validateTarget: hostnames without whitespace or control characters", () => {
  refused({ hostname: "" }, /hostname is empty/);
  refused({ hostname: "a".repeat(256) }, /longer than 255/);
  for (
    const hostname of ["a b", "a\r\nb", "a\0b", "a\tb", "a\u00a0b", "a\x7fb"]
  ) {
    refused(
      { hostname },
      /hostname contains whitespace or a control character/,
    );
  }
  refused({ hostname: 25 as unknown as string }, /hostname must be a string/);
  refused({ servername: "x\n" }, /servername contains/);
});

test("validateTarget: paths without CR, LF or NUL, and no local binding on them", () => {
  refused(
    { path: "/run/x.sock\0.evil" },
    /path contains a cr, lf or nul character/,
  );
  refused({ path: "/run/x\r\n" }, /path contains/);
  refused({ path: "" }, /path is empty/);
  refused(
    { path: "/run/x.sock", localPort: 1000 },
    /cannot be used with a unix socket path/,
  );
});

test("validateTarget: tls mode, local address and caCerts", () => {
  refused(
    { tls: "STARTTLS" as ConnectTarget["tls"] },
    /tls must be "none", "implicit" or "starttls-capable" \(got "STARTTLS"\)/,
  );
  refused(
    { tls: undefined as unknown as ConnectTarget["tls"] },
    /\(got undefined\)/,
  );
  refused({ localAddress: "eth0" }, /localAddress must be an ip address/);
  refused({ localAddress: "256.0.0.1" }, /localAddress must be an ip address/);
  refused(
    { caCerts: "pem" as unknown as string[] },
    /caCerts must be an array/,
  );
  assert.throws(
    () => validateTarget(null as unknown as ConnectTarget),
    InvalidInputError,
  );
});
