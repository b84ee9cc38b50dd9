// The bulk-send seam: what `mailwire send` needs from an SMTP sender, over an SmtpPool.

import type { ComposedMessage } from "../message/mod.ts";
import {
  type SendMessageOptions,
  type SendResult,
  type SmtpClientOptions,
  SmtpPool,
} from "../smtp/mod.ts";

/** Messages each connection keeps in flight (the pool takes up to 100 per connection). */
const PER_CONNECTION = 100;

/**
 * What the send command needs from a sender: `sendMessage` and `close`.
 * `concurrency` is how many sends the command keeps in flight.
 */
export interface Sender {
  /** Send one message (composed, or raw bytes with the envelope from its headers). */
  sendMessage(
    message: Uint8Array | ComposedMessage,
    options?: SendMessageOptions,
  ): Promise<SendResult>;
  /** Drain, QUIT and close. */
  close(): Promise<void>;
  /** Sends to keep in flight. */
  readonly concurrency: number;
  /** Connections opened so far (reconnects included). */
  readonly connections: number;
}

/**
 * An `SmtpPool` of `connections` connections, one per `--connections`,
 * none replaced for its message count (one run, one connection each). A
 * connection lost before a message's data (never after: outcome unknown)
 * is reopened and the message sent again, at most 3 times per message.
 */
class PoolSender implements Sender {
  readonly concurrency: number;
  readonly #pool: SmtpPool;

  constructor(pool: SmtpPool, connections: number) {
    this.#pool = pool;
    this.concurrency = connections * PER_CONNECTION;
  }

  get connections(): number {
    return this.#pool.opened;
  }

  sendMessage(
    message: Uint8Array | ComposedMessage,
    options?: SendMessageOptions,
  ): Promise<SendResult> {
    return this.#pool.sendMessage(message, options);
  }

  close(): Promise<void> {
    return this.#pool.close();
  }
}

/**
 * Open a sender for `options` with up to `connections` connections: one
 * connected (and logged in) before the promise resolves, so connection,
 * TLS and login failures surface here; invalid options throw at once.
 */
export async function openSender(
  options: SmtpClientOptions,
  connections = 1,
): Promise<Sender> {
  const pool = new SmtpPool({
    ...options,
    maxConnections: connections,
    maxMessagesPerConnection: Infinity,
  }); // option errors throw here, at once
  try {
    await pool.connect();
  } catch (err) {
    await pool.close();
    throw err;
  }
  return new PoolSender(pool, connections);
}
