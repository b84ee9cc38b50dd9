// The bulk-send seam: what `mailwire send` needs from an SMTP sender, over one SmtpClient until SmtpPool lands.

import type { ComposedMessage } from "../message/mod.ts";
import {
  type SendMessageOptions,
  type SendResult,
  SmtpClient,
  type SmtpClientOptions,
  SmtpOutcomeUnknownError,
  SmtpServerDisconnectedError,
  SmtpServiceClosingError,
} from "../smtp/mod.ts";
import { ConnectionClosedError } from "../tls/mod.ts";

/**
 * What the send command needs from a sender: `sendMessage` and `close`,
 * the surface `SmtpClient` and `SmtpPool` share. `concurrency` is how many
 * sends the command keeps in flight.
 */
export interface Sender {
  /** Send one message (composed, or raw bytes with the envelope from its headers). */
  sendMessage(
    message: Uint8Array | ComposedMessage,
    options?: SendMessageOptions,
  ): Promise<SendResult>;
  /** QUIT and close. */
  close(): Promise<void>;
  /** Sends to keep in flight (1 for one connection). */
  readonly concurrency: number;
  /** Connections opened so far (reconnects included). */
  readonly connections: number;
}

/** How many times a lost connection is reopened during one run. */
const MAX_RECONNECTS = 3;

/** Whether a send failed before any of its data could count as delivered. */
function retryable(err: unknown): boolean {
  if (err instanceof SmtpOutcomeUnknownError) return false;
  return err instanceof SmtpServerDisconnectedError ||
    err instanceof SmtpServiceClosingError ||
    err instanceof ConnectionClosedError;
}

/**
 * One `SmtpClient`, connected and logged in; sends run one after another.
 * A connection lost before a message's data was complete (never after:
 * outcome unknown) is reopened and that message sent again, at most
 * {@linkcode MAX_RECONNECTS} times per run.
 */
class ClientSender implements Sender {
  readonly concurrency = 1;
  #client: SmtpClient;
  #options: SmtpClientOptions;
  #connections = 1;

  constructor(client: SmtpClient, options: SmtpClientOptions) {
    this.#client = client;
    this.#options = options;
  }

  get connections(): number {
    return this.#connections;
  }

  async sendMessage(
    message: Uint8Array | ComposedMessage,
    options?: SendMessageOptions,
  ): Promise<SendResult> {
    for (;;) {
      try {
        if (!this.#client.connected) await this.#reconnect();
        return await this.#client.sendMessage(message, options);
      } catch (err) {
        const replayable = message instanceof Uint8Array || message.replayable;
        if (
          !retryable(err) || !replayable ||
          this.#connections > MAX_RECONNECTS
        ) throw err;
        await this.#client.close();
      }
    }
  }

  async #reconnect(): Promise<void> {
    this.#connections++;
    this.#client = await SmtpClient.connect(this.#options);
  }

  async close(): Promise<void> {
    if (this.#client.connected) {
      await this.#client.quit().catch(() => this.#client.close());
    } else await this.#client.close();
  }
}

/**
 * Open a sender for `options`: connected (and logged in) before the
 * promise resolves, so connection, TLS and login failures surface here;
 * invalid options throw synchronously.
 *
 * The one place to switch to the pool: when `SmtpPool` is in `./smtp`,
 * this returns `new SmtpPool({ ...options, maxConnections })` (same
 * `sendMessage`/`close` surface) with `concurrency` set to its window.
 */
export function openSender(options: SmtpClientOptions): Promise<Sender> {
  const client = new SmtpClient(options); // option errors throw here, at once
  return client.connect().then(() => new ClientSender(client, options));
}
