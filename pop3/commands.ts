// Pure POP3 command building and transcript forms: message numbers, pipelined lines, raw-command checks, redaction.

import { InvalidInputError } from "../errors.ts";
import type { Pop3Status } from "../io/pop3_status.ts";
import { assertSafe } from "../io/validate.ts";
import type { Pop3PipelineCommand } from "./types.ts";

/** A message number for a command: a positive safe integer. */
export function messageId(id: number): number {
  if (typeof id !== "number" || !Number.isSafeInteger(id) || id < 1) {
    throw new InvalidInputError("message id must be a positive integer");
  }
  return id;
}

/** A TOP line count: a non-negative safe integer. */
export function lineCount(lines: number): number {
  if (typeof lines !== "number" || !Number.isSafeInteger(lines) || lines < 0) {
    throw new InvalidInputError("line count must be a non-negative integer");
  }
  return lines;
}

/** The line of one pipelined command (checked). */
export function pipelineLine(c: Pop3PipelineCommand): string {
  switch (c?.command) {
    case "RETR":
    case "DELE":
      return `${c.command} ${messageId(c.id)}`;
    case "TOP":
      return `TOP ${messageId(c.id)} ${lineCount(c.lines)}`;
    case "NOOP":
    case "RSET":
      return c.command;
    default:
      throw new InvalidInputError("unknown pipeline command");
  }
}

/** Commands `command()` refuses: multi-line answers or state the client must track. */
const NOT_RAW = new Set(["RETR", "TOP", "CAPA", "STLS", "AUTH", "QUIT"]);

/**
 * The upper-cased verb of a raw command line, after refusing what
 * `command()` can't send: CR/LF/NUL, and commands with a multi-line answer
 * or that change the connection.
 */
export function checkRawCommand(line: string): string {
  assertSafe(line, "command");
  const words = line.trim().split(" ").filter(Boolean);
  const verb = (words[0] ?? "").toUpperCase();
  if (
    NOT_RAW.has(verb) ||
    ((verb === "LIST" || verb === "UIDL") && words.length === 1)
  ) {
    throw new InvalidInputError(
      `command() takes single-line commands; use the ${verb.toLowerCase()} method`,
    );
  }
  return verb;
}

/** A status as the transcript shows it. */
export function statusLine(status: Pop3Status): string {
  const code = status.respCode ? `[${status.respCode}] ` : "";
  return `${status.ok ? "+OK" : "-ERR"} ${code}${status.text}`.trimEnd();
}

/** The transcript form of a command line: PASS, APOP and AUTH secrets replaced. */
export function redact(line: string): string {
  const first = line.indexOf(" ");
  if (first < 1) return line;
  const verb = line.slice(0, first).toUpperCase();
  if (verb === "PASS") return `${line.slice(0, first)} <redacted>`;
  if (verb === "APOP" || verb === "AUTH") {
    const second = line.indexOf(" ", first + 1);
    if (second > first + 1) return `${line.slice(0, second)} <redacted>`;
  }
  return line;
}

/** Bytes as a string of the same length, one char per byte (exact, never lossy). */
export function latin1(bytes: Uint8Array): string {
  let out = "";
  for (let i = 0; i < bytes.length; i += 4096) {
    out += String.fromCharCode(...bytes.subarray(i, i + 4096));
  }
  return out;
}
