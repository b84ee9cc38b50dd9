// The one check of a ConnectTarget that every connector makes before it opens a socket.

import type { ConnectTarget } from "./conn.ts";
import { InvalidInputError } from "../errors.ts";

/** Whether `value` has whitespace, a C0 control (CR, LF, NUL...) or DEL. */
function hasUnsafeChar(value: string): boolean {
  for (let i = 0; i < value.length; i++) {
    const code = value.charCodeAt(i);
    if (code <= 0x20 || code === 0x7f) return true;
  }
  return /\s/.test(value);
}
/** CR, LF and NUL: never in a path (Bun would truncate at the NUL). */
const UNSAFE_PATH = /[\r\n\0]/;
const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;
const IPV6 = /^[0-9A-Fa-f:.]+$/;
const MODES: readonly string[] = ["none", "implicit", "starttls-capable"];

function fail(message: string): never {
  throw new InvalidInputError(`invalid connect target: ${message}`);
}

function checkName(value: unknown, what: string): void {
  if (typeof value !== "string") fail(`${what} must be a string`);
  if (value.length === 0) fail(`${what} is empty`);
  if (value.length > 255) fail(`${what} is longer than 255 characters`);
  if (hasUnsafeChar(value)) {
    fail(
      `${what} contains whitespace or a control character: ${
        JSON.stringify(value)
      }`,
    );
  }
}

function checkPort(value: unknown, what: string): void {
  if (
    typeof value !== "number" || !Number.isInteger(value) || value < 1 ||
    value > 65535
  ) {
    fail(
      `${what} must be an integer from 1 to 65535 (got ${
        typeof value === "number" ? value : JSON.stringify(value) ?? "undefined"
      })`,
    );
  }
}

/**
 * Whether `value` is written like an IPv4 or IPv6 address (no zone).
 *
 * @internal
 */
export function isIpLiteral(value: string): boolean {
  const v4 = IPV4.exec(value);
  if (v4) return v4.slice(1).every((part) => Number(part) <= 255);
  return value.includes(":") && IPV6.test(value);
}

/**
 * Checks `target` and throws `InvalidInputError` for anything a socket API
 * would refuse, misread or throw on synchronously: an empty hostname or one
 * with whitespace or control characters, a port that is not an integer from
 * 1 to 65535 (for TCP), a path with CR/LF/NUL, an unknown `tls` mode, a
 * `localAddress` that is not an IP address, an out-of-range `localPort`, or a
 * local binding on a Unix socket. Every connector calls it first, so the
 * same input fails the same way on every runtime, before any socket exists.
 *
 * @internal
 */
export function validateTarget(target: ConnectTarget): void {
  if (typeof target !== "object" || target === null) {
    fail("expected an object");
  }
  if (!MODES.includes(target.tls)) {
    fail(
      `tls must be "none", "implicit" or "starttls-capable" (got ${
        JSON.stringify(target.tls) ?? "undefined"
      })`,
    );
  }
  checkName(target.hostname, "hostname");
  if (target.servername !== undefined) {
    checkName(target.servername, "servername");
  }
  if (target.path !== undefined) {
    if (typeof target.path !== "string") fail("path must be a string");
    if (target.path.length === 0) fail("path is empty");
    if (UNSAFE_PATH.test(target.path)) {
      fail(
        `path contains a cr, lf or nul character: ${
          JSON.stringify(target.path)
        }`,
      );
    }
    if (target.localAddress !== undefined || target.localPort !== undefined) {
      fail("localAddress and localPort cannot be used with a unix socket path");
    }
  } else {
    checkPort(target.port, "port");
  }
  if (target.localAddress !== undefined) {
    checkName(target.localAddress, "localAddress");
    if (!isIpLiteral(target.localAddress)) {
      fail(
        `localAddress must be an ip address (got ${
          JSON.stringify(target.localAddress)
        })`,
      );
    }
  }
  if (target.localPort !== undefined) checkPort(target.localPort, "localPort");
  if (
    target.caCerts !== undefined &&
    !(Array.isArray(target.caCerts) &&
      target.caCerts.every((pem) => typeof pem === "string"))
  ) {
    fail("caCerts must be an array of pem strings");
  }
}
