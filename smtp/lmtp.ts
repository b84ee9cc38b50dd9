import { LMTP, SmtpClient, type SmtpClientOptions } from "./client.ts";

/**
 * An LMTP client (RFC 2033; Python's `smtplib.LMTP`): LHLO instead of EHLO,
 * and after the message one reply per accepted recipient, all read in
 * order (smtplib reads only one and desyncs). `sendMail` reports each
 * recipient's delivery in `deliveries`; failed deliveries are in `refused`.
 * Connects over TCP (default port 24) or a unix socket (`path`). TLS is off
 * by default (`tls: "none"`), as LMTP is used on trusted local links.
 *
 * @example Deliver to Dovecot over its unix socket
 * ```ts ignore
 * import { LmtpClient } from "@mailwire/mailwire/smtp";
 * await using lmtp = await LmtpClient.connect({ path: "/run/dovecot/lmtp" });
 * const { deliveries } = await lmtp.sendMail({
 *   from: "me@example.com",
 *   to: ["a@example.com", "b@example.com"],
 *   data: "Subject: hi\r\n\r\nHello\r\n",
 * });
 * console.log(deliveries?.get("a@example.com")?.code); // 250
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
    super({ tls: "none", ...options, [LMTP]: true } as SmtpClientOptions);
  }

  /**
   * Create an LMTP client and connect.
   *
   * @example
   * ```ts ignore
   * import { LmtpClient } from "@mailwire/mailwire/smtp";
   * const lmtp = await LmtpClient.connect({ hostname: "127.0.0.1", port: 24 });
   * await lmtp.quit();
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
