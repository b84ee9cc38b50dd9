import { ProtocolError } from "../errors.ts";

/**
 * `STAT`: how many messages the maildrop holds and their total size.
 *
 * @example
 * ```ts ignore
 * import { Pop3Client, type Pop3Stat } from "@mailwire/mailwire/pop3";
 * const client = await Pop3Client.connect({
 *   hostname: "pop.example.com",
 *   auth: { username: "me@example.com", password: "secret" },
 * });
 * const { count, size }: Pop3Stat = await client.stat();
 * console.log(`${count} messages, ${size} octets`);
 * ```
 */
export interface Pop3Stat {
  /** Number of messages (those marked deleted are not counted). */
  count: number;
  /** Total size in octets. */
  size: number;
}

/**
 * One scan listing (`LIST`): a message number and its size in octets.
 *
 * @example
 * ```ts ignore
 * import { Pop3Client, type Pop3ScanListing } from "@mailwire/mailwire/pop3";
 * const client = await Pop3Client.connect({
 *   hostname: "pop.example.com",
 *   auth: { username: "me@example.com", password: "secret" },
 * });
 * const listing: Pop3ScanListing[] = await client.list();
 * const big = listing.filter((m) => m.size > 10_000_000).map((m) => m.id);
 * ```
 */
export interface Pop3ScanListing {
  /** Message number (1-based, stable for the session). */
  id: number;
  /** Size in octets, as the server counts it. */
  size: number;
}

/**
 * One unique-id listing (`UIDL`): a message number and its unique id.
 *
 * @example
 * ```ts ignore
 * import { Pop3Client, type Pop3UidListing } from "@mailwire/mailwire/pop3";
 * const client = await Pop3Client.connect({
 *   hostname: "pop.example.com",
 *   auth: { username: "me@example.com", password: "secret" },
 * });
 * const { id, uid }: Pop3UidListing = await client.uidl(1);
 * console.log(id, uid); // 1 "whqtswO00WBw418f9t5JxYwZ"
 * ```
 */
export interface Pop3UidListing {
  /** Message number (1-based, stable for the session). */
  id: number;
  /** The server's unique id for the message, stable across sessions. */
  uid: string;
}

/**
 * A message of {@linkcode Pop3Client.listing}: number, unique id and size.
 *
 * @example
 * ```ts ignore
 * import { Pop3Client, type Pop3MessageListing } from "@mailwire/mailwire/pop3";
 * const client = await Pop3Client.connect({
 *   hostname: "pop.example.com",
 *   auth: { username: "me@example.com", password: "secret" },
 * });
 * const seen = new Set<string>(); // uids fetched in earlier sessions
 * const fresh: Pop3MessageListing[] = (await client.listing()).filter((m) => !seen.has(m.uid));
 * for (const { id } of fresh) await client.retr(id);
 * ```
 */
export interface Pop3MessageListing {
  /** Message number (1-based, stable for the session). */
  id: number;
  /** The server's unique id, stable across sessions. */
  uid: string;
  /** Size in octets. */
  size: number;
}

const NUMBERS = /^(\d{1,15}) +(\d{1,15})(?:\s|$)/;
const UID = /^(\d{1,15}) +([\x21-\x7e\x80-\u{10ffff}]+)(?:\s|$)/u;

function numbers(text: string, what: string): [number, number] {
  const m = NUMBERS.exec(text);
  if (!m) {
    throw new ProtocolError(
      `malformed ${what}: ${JSON.stringify(text.slice(0, 80))}`,
    );
  }
  return [Number(m[1]), Number(m[2])];
}

/** Parse `STAT`'s `nn mm`. Throws ProtocolError when malformed. */
export function parseStat(text: string): Pop3Stat {
  const [count, size] = numbers(text, "stat response");
  return { count, size };
}

/** Parse a scan listing `id size [...]`. Throws ProtocolError when malformed. */
export function parseScanListing(text: string): Pop3ScanListing {
  const [id, size] = numbers(text, "scan listing");
  if (id < 1) throw new ProtocolError("scan listing with message number 0");
  return { id, size };
}

/** Parse a unique-id listing `id uid`. Throws ProtocolError when malformed. */
export function parseUidListing(text: string): Pop3UidListing {
  const m = UID.exec(text);
  if (!m || Number(m[1]) < 1) {
    throw new ProtocolError(
      `malformed unique-id listing: ${JSON.stringify(text.slice(0, 80))}`,
    );
  }
  return { id: Number(m[1]), uid: m[2] };
}

/**
 * Add one CAPA line to `capabilities`: the keyword upper-cased, then its
 * arguments split on white space. Blank lines are skipped.
 */
export function addCapability(
  capabilities: Map<string, string[]>,
  line: string,
): void {
  const words = line.trim().split(/\s+/);
  if (words[0] === "") return;
  capabilities.set(words[0].toUpperCase(), words.slice(1));
}

/** `+OK 1234 octets` (RETR/TOP): the announced size, if plausible. */
export function announcedSize(text: string): number | undefined {
  const m = /^(\d{1,15}) octets?\b/i.exec(text);
  return m ? Number(m[1]) : undefined;
}
