// The SASL exchange over a session, shared by the SMTP and POP3 clients (their framing differs, nothing else).

import { authenticate, type SaslStep } from "../auth/authenticate.ts";
import type { SaslMechanism } from "../auth/mechanism.ts";
import { AuthError } from "../errors.ts";
import type { Deadline } from "./deadline.ts";
import type { Session } from "./session.ts";

/** How one protocol frames SASL. */
export interface SaslFraming {
  /**
   * Read the server's answer to an AUTH line or a response: done, a
   * challenge, or throw the protocol's refusal error (SMTP 535, POP3 -ERR).
   */
  read(d: Deadline): Promise<SaslStep>;
  /** Send the initial response on the AUTH line when it has one. */
  initialResponse: boolean;
  /** Longest AUTH line with an initial response, without CRLF. */
  maxInitialLine: number;
}

/**
 * Run `mechanism` over `session` within `d`. The transcript shows the
 * mechanism's name, never the exchanged data. A broken exchange (an
 * invalid challenge, success before the mechanism finished) closes the
 * connection: the server's idea of the session is unknown.
 */
export async function saslExchange(
  session: Session,
  d: Deadline,
  mechanism: SaslMechanism,
  framing: SaslFraming,
): Promise<void> {
  let began = false;
  const send = (line: string, log: string) =>
    session.io((ch) => ch.sendCommands([line], d, { log: [log] }));
  try {
    await authenticate(mechanism, {
      begin: async (name, initial) => {
        began = true;
        if (initial === undefined) await send(`AUTH ${name}`, `AUTH ${name}`);
        else await send(`AUTH ${name} ${initial}`, `AUTH ${name} <redacted>`);
        return await framing.read(d);
      },
      respond: async (line) => {
        await send(line, line === "*" ? "*" : "<redacted>");
        return await framing.read(d);
      },
    }, {
      initialResponse: framing.initialResponse,
      maxInitialLine: framing.maxInitialLine,
    });
  } catch (err) {
    if (err instanceof AuthError && began) await session.close();
    throw err;
  }
}
