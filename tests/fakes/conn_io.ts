// Test-only: client-side helpers over a Conn (Web APIs only: they also run inside workerd).

import type { Conn } from "../../tls/conn.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Writes `text` and releases the lock. */
export async function send(conn: Conn, text: string): Promise<void> {
  const writer = conn.writable.getWriter();
  try {
    await writer.write(encoder.encode(text));
  } finally {
    writer.releaseLock();
  }
}

/**
 * Reads until the text read ends with `end` (default CRLF), then releases
 * the lock. Throws if the stream ends first.
 */
export async function receive(conn: Conn, end = "\r\n"): Promise<string> {
  const reader = conn.readable.getReader();
  let text = "";
  try {
    while (!text.endsWith(end)) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`stream ended after ${JSON.stringify(text)}`);
      text += decoder.decode(value, { stream: true });
    }
    return text;
  } finally {
    reader.releaseLock();
  }
}

/** Reads until the stream ends; returns the text read. */
export async function receiveAll(conn: Conn): Promise<string> {
  let text = "";
  for await (const chunk of conn.readable) {
    text += decoder.decode(chunk, { stream: true });
  }
  return text;
}

/** Resolves after `ms` milliseconds. */
export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
