// LmtpClient: SmtpClient speaking the LMTP dialect (RFC 2033; smtplib's LMTP).

import { LMTP, registerDialect } from "./dialect.ts";
import { SmtpClient } from "./client.ts";
import type { SmtpClientOptions } from "./options.ts";

/**
 * An LMTP client (RFC 2033; Python's `smtplib.LMTP`): LHLO instead of EHLO,
 * no HELO, and after the message one reply per accepted recipient, so
 * {@linkcode SmtpClient.sendMail} reports each delivery (`deliveries`) and
 * never hides one behind an error. Connects over TCP or a Unix socket
 * (`path`), in clear by default (`tls: "none"`), as LMTP is used on trusted
 * local links.
 *
 * @example Deliver to Dovecot over its Unix socket
 * ```ts
 * import { LmtpClient } from "@mailwire/mailwire/smtp";
 * async function deliver(message: string) {
 *   await using lmtp = await LmtpClient.connect({ path: "/run/dovecot/lmtp" });
 *   const result = await lmtp.sendMail({ from: "", to: ["alice", "bob"], data: message });
 *   for (const [rcpt, reply] of result.deliveries ?? []) console.log(rcpt, reply.code);
 * }
 * console.log(typeof deliver); // "function"
 * ```
 */
export class LmtpClient extends SmtpClient {
  /**
   * Create an LMTP client; call `connect()` next.
   *
   * @example
   * ```ts
   * import { LmtpClient } from "@mailwire/mailwire/smtp";
   * const lmtp = new LmtpClient({ path: "/run/dovecot/lmtp" }); // tls: "none" by default
   * console.log(lmtp.connected); // false: call connect() next
   * ```
   */
  constructor(options: SmtpClientOptions = {}) {
    super(options);
  }

  /**
   * Create an LMTP client and connect.
   *
   * @example
   * ```ts
   * import { LmtpClient } from "@mailwire/mailwire/smtp";
   * async function open() {
   *   const lmtp = await LmtpClient.connect({ hostname: "127.0.0.1", port: 24 });
   *   await lmtp.quit();
   * }
   * console.log(typeof open); // "function"
   * ```
   */
  static override async connect(
    options: SmtpClientOptions = {},
  ): Promise<LmtpClient> {
    const client = new LmtpClient(options);
    await client.connect();
    return client;
  }
}

registerDialect(LmtpClient, LMTP);
