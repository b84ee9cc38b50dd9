// Where `mailwire fetch` saves messages: a Maildir or .eml files, each write verified, with a journal of saved UIDLs for resuming.

import { createHash, randomBytes } from "node:crypto";
import {
  type FileHandle,
  mkdir,
  open,
  readdir,
  readFile,
  rename,
  stat,
  unlink,
} from "node:fs/promises";
import { hostname } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { LocalIoError, UsageError } from "./exit.ts";

/** The journal file in the target folder. */
export const JOURNAL = ".mailwire-fetch.jsonl";

/** One saved message, as the journal records it. */
export interface SavedEntry {
  /** The UIDL. */
  uid: string;
  /** Where it went, relative to the folder. */
  file: string;
  /** Where it was written first, relative to the folder (renamed to `file` after the journal entry). */
  tmp: string;
  /** Octets written. */
  size: number;
  /** SHA-256 of what was written, checked by reading the file back. */
  sha256: string;
}

/** Format of the folder. */
export type StoreKind = "maildir" | "eml";

const UNSAFE = /[^A-Za-z0-9._+=@,-]/g;

/**
 * A file name for a UIDL (RFC 1939: 0x21–0x7E, yet a server may send
 * anything): characters outside a safe set, a leading dot, and `%` itself
 * as `%XX` (so different UIDLs never share a name); when letters differ
 * only in case, or the name would be long, a hash of the UIDL is added so
 * case-insensitive file systems keep them apart too.
 */
export function uidFileName(uid: string): string {
  let name = uid.replace(UNSAFE, (c) => {
    const bytes = new TextEncoder().encode(c);
    return [...bytes].map((b) =>
      `%${b.toString(16).toUpperCase().padStart(2, "0")}`
    ).join("");
  });
  if (name.startsWith(".")) name = "%2E" + name.slice(1);
  const needsHash = /[A-Z]/.test(uid) || name.length > 120 || name.length === 0;
  if (needsHash) {
    const hash = createHash("sha256").update(uid).digest("hex").slice(0, 12);
    name = `${name.slice(0, 120)}~${hash}`;
  }
  return `${name}.eml`;
}

let counter = 0;

/** This host's name as a Maildir name field. */
function maildirHost(): string {
  return hostname().replaceAll("/", "\\057").replaceAll(":", "\\072") ||
    "localhost";
}

/**
 * A Maildir unique name: `seconds.MmicrosPpidQnRrandom.host` (the
 * conventional fields; `/` and `:` in the host name escaped as `\057` and
 * `\072`), then `,S=size`.
 */
export function maildirName(size: number, now = Date.now()): string {
  const host = maildirHost();
  const sec = Math.floor(now / 1000);
  const micro = (now % 1000) * 1000 + Math.floor(Math.random() * 1000);
  const rand = randomBytes(4).toString("hex");
  return `${sec}.M${micro}P${process.pid}Q${++counter}R${rand}.${host},S=${size}`;
}

/** Whether process `pid` (of this host) is running. */
function running(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as { code?: string }).code === "EPERM";
  }
}

const MAILDIR_TMP = /^\d+\.M\d+P(\d+)Q\d+R[0-9a-f]{8}\.(.+),S=\d+$/;
const EML_TMP = /^\.tmp-P(\d+)R[0-9a-f]{8}-/;

/**
 * The temporary files a mailwire process of this host left when it died
 * mid-write (never journalled): safe to remove. Other programs' files in
 * a Maildir's tmp/ are left alone (Maildir: they clean their own).
 */
export function staleTemporary(name: string, host: string): boolean {
  const m = MAILDIR_TMP.exec(name);
  if (m) return m[2] === host && !running(Number(m[1]));
  const e = EML_TMP.exec(name);
  return e !== null && !running(Number(e[1]));
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

/** fsync a directory, where the platform allows it (not on Windows). */
async function syncDir(path: string): Promise<void> {
  let handle: FileHandle | undefined;
  try {
    handle = await open(path, "r");
    await handle.sync();
  } catch {
    /* directories can't be synced everywhere */
  } finally {
    await handle?.close().catch(() => {});
  }
}

function ioError(what: string, path: string, err: unknown): LocalIoError {
  const code = (err as { code?: string }).code;
  return new LocalIoError(
    `${what} ${path} failed: ${code ?? (err as Error).message ?? err}`,
    { cause: err },
  );
}

/** The message's bytes, whole or as chunks. */
export type MessageSource = Uint8Array | AsyncIterable<Uint8Array>;

/**
 * The folder messages are saved to. {@linkcode MessageStore.save} writes
 * to a temporary file, fsyncs it, reads it back and compares size and
 * SHA-256, appends a journal line (fsynced) and only then moves the file
 * into place. A crash at any point leaves no duplicate: a journal entry
 * whose temporary file is still there is completed at the next open; a
 * temporary file without an entry is never moved (the message is fetched
 * again).
 */
export class MessageStore {
  readonly dir: string;
  readonly kind: StoreKind;
  readonly #saved = new Map<string, SavedEntry>();
  #journal: FileHandle | undefined;
  /** Entries completed at open (a crash between journal and rename). */
  recovered = 0;
  /** Half-written temporary files of dead mailwire processes removed at open. */
  removed = 0;

  private constructor(dir: string, kind: StoreKind) {
    this.dir = dir;
    this.kind = kind;
  }

  /**
   * Open (creating) the folder for `account` (`user@host:port`). A folder
   * whose journal names another account is refused: UIDLs are unique per
   * mailbox only.
   */
  static async open(
    dir: string,
    kind: StoreKind,
    account: string,
  ): Promise<MessageStore> {
    const store = new MessageStore(dir, kind);
    try {
      if (kind === "maildir") {
        for (const sub of ["tmp", "new", "cur"]) {
          await mkdir(join(dir, sub), { recursive: true, mode: 0o700 });
        }
      } else await mkdir(dir, { recursive: true, mode: 0o700 });
    } catch (err) {
      throw ioError("creating", dir, err);
    }
    const path = join(dir, JOURNAL);
    let text = "";
    try {
      text = await readFile(path, "utf8");
    } catch (err) {
      if ((err as { code?: string }).code !== "ENOENT") {
        throw ioError("reading", path, err);
      }
    }
    const lines = text.split("\n");
    // A last line without its newline was cut by a crash: ignored.
    if (!text.endsWith("\n")) lines.pop();
    let header: { account?: string } | undefined;
    for (const line of lines) {
      if (line === "") continue;
      let entry: Partial<SavedEntry> & {
        account?: string;
        "mailwire-fetch"?: number;
      };
      try {
        entry = JSON.parse(line);
      } catch {
        throw new LocalIoError(
          `the journal ${path} is damaged: ${line.slice(0, 80)}`,
        );
      }
      if (entry["mailwire-fetch"] !== undefined) {
        header = entry;
        continue;
      }
      if (
        typeof entry.uid === "string" && typeof entry.file === "string" &&
        typeof entry.tmp === "string"
      ) store.#saved.set(entry.uid, entry as SavedEntry);
    }
    if (header && header.account !== account) {
      throw new UsageError(
        `${dir} holds messages of ${header.account}, not ${account}: use another folder`,
      );
    }
    try {
      store.#journal = await open(path, "a", 0o600);
      if (!header) {
        await store.#journal.write(
          JSON.stringify({ "mailwire-fetch": 1, account }) + "\n",
        );
        await store.#journal.sync();
      }
    } catch (err) {
      throw ioError("opening", path, err);
    }
    // Complete what a crash interrupted: verified, journalled, not yet moved.
    for (const e of store.#saved.values()) {
      const tmp = join(dir, e.tmp);
      const final = join(dir, e.file);
      if (await exists(tmp) && !(await exists(final))) {
        try {
          await rename(tmp, final);
          store.recovered++;
        } catch (err) {
          throw ioError("moving", tmp, err);
        }
      }
    }
    // Remove what dead mailwire processes left half-written.
    const tmpDir = kind === "maildir" ? join(dir, "tmp") : dir;
    const journalled = new Set(
      [...store.#saved.values()].map((e) => join(dir, e.tmp)),
    );
    try {
      for (const name of await readdir(tmpDir)) {
        const path = join(tmpDir, name);
        if (!journalled.has(path) && staleTemporary(name, maildirHost())) {
          await unlink(path).catch(() => {});
          store.removed++;
        }
      }
    } catch (err) {
      throw ioError("reading", tmpDir, err);
    }
    return store;
  }

  /** Whether a message with this UIDL was saved (in this run or an earlier one). */
  has(uid: string): boolean {
    return this.#saved.has(uid);
  }

  /** How many messages the journal holds. */
  get size(): number {
    return this.#saved.size;
  }

  /** The saved entry for a UIDL. */
  entry(uid: string): SavedEntry | undefined {
    return this.#saved.get(uid);
  }

  async #names(
    uid: string,
    size: number,
  ): Promise<{ tmp: string; file: string }> {
    if (this.kind === "maildir") {
      const name = maildirName(size);
      return { tmp: join("tmp", name), file: join("new", name) };
    }
    const base = uidFileName(uid);
    let file = base;
    // A file of that name not saved by us (no journal entry): keep it.
    for (let i = 2; await exists(join(this.dir, file)); i++) {
      file = base.replace(/\.eml$/, `~${i}.eml`);
    }
    const rand = randomBytes(4).toString("hex");
    return { tmp: `.tmp-P${process.pid}R${rand}-${file}`, file };
  }

  /**
   * Save one message: {@linkcode MessageStore.stage}, then
   * {@linkcode MessageStore.commit}.
   */
  async save(
    uid: string,
    source: MessageSource,
    expectedSize: number,
    onBytes?: (written: number) => void,
  ): Promise<SavedEntry> {
    const entry = await this.stage(uid, source, expectedSize, onBytes);
    await this.commit([entry]);
    return entry;
  }

  /**
   * Write one message to a temporary file, fsync it, read it back and
   * check it. Not saved until {@linkcode MessageStore.commit}. Throws
   * {@linkcode LocalIoError} (the temporary file removed) when a step
   * fails; a failing `source` (the download) is rethrown as is. `onBytes`
   * is told the bytes written so far.
   */
  async stage(
    uid: string,
    source: MessageSource,
    expectedSize: number,
    onBytes?: (written: number) => void,
  ): Promise<SavedEntry> {
    const names = await this.#names(uid, expectedSize);
    const tmpPath = join(this.dir, names.tmp);
    const hash = createHash("sha256");
    let size = 0;
    let handle: FileHandle | undefined;
    let ok = false;
    try {
      try {
        handle = await open(tmpPath, "wx", 0o600);
      } catch (err) {
        throw ioError("creating", tmpPath, err);
      }
      const write = async (chunk: Uint8Array) => {
        hash.update(chunk);
        let at = 0;
        while (at < chunk.length) {
          const { bytesWritten } = await handle!.write(
            chunk,
            at,
            chunk.length - at,
          );
          at += bytesWritten;
        }
        size += chunk.length;
        onBytes?.(size);
      };
      try {
        if (source instanceof Uint8Array) await write(source);
        else for await (const chunk of source) await write(chunk);
      } catch (err) {
        if (err instanceof LocalIoError) throw err;
        if ((err as { code?: string }).code) {
          throw ioError("writing", tmpPath, err);
        }
        throw err; // the download failed: the client's error
      }
      try {
        await handle.sync();
        await handle.close();
        handle = undefined;
      } catch (err) {
        throw ioError("syncing", tmpPath, err);
      }
      const sha256 = hash.digest("hex");
      await verify(tmpPath, size, sha256);
      ok = true;
      return { uid, file: names.file, tmp: names.tmp, size, sha256 };
    } finally {
      await handle?.close().catch(() => {});
      if (!ok) await unlink(tmpPath).catch(() => {});
    }
  }

  /**
   * Make staged messages saved: their journal lines in one write and one
   * fsync, then each file moved into place (and the folder synced). A
   * crash after the journal sync is completed at the next open.
   */
  async commit(entries: readonly SavedEntry[]): Promise<void> {
    if (entries.length === 0) return;
    try {
      await this.#journal!.write(
        entries.map((e) => JSON.stringify(e) + "\n").join(""),
      );
      await this.#journal!.sync();
    } catch (err) {
      await Promise.all(
        entries.map((e) => unlink(join(this.dir, e.tmp)).catch(() => {})),
      );
      throw ioError("writing the journal in", this.dir, err);
    }
    for (const e of entries) this.#saved.set(e.uid, e);
    try {
      for (const e of entries) {
        await rename(join(this.dir, e.tmp), join(this.dir, e.file));
      }
      await syncDir(join(this.dir, this.kind === "maildir" ? "new" : "."));
    } catch (err) {
      // Journalled: the next open completes the moves.
      throw ioError("moving", this.dir, err);
    }
  }

  /** Close the journal. */
  async close(): Promise<void> {
    await this.#journal?.close().catch(() => {});
    this.#journal = undefined;
  }
}

/** Read `path` back: its size and SHA-256 must be what was written. */
export async function verify(
  path: string,
  size: number,
  sha256: string,
): Promise<void> {
  let handle: FileHandle | undefined;
  try {
    handle = await open(path, "r");
    const { size: onDisk } = await handle.stat();
    if (onDisk !== size) {
      throw new LocalIoError(
        `verifying ${path} failed: ${onDisk} bytes on disk, ${size} written`,
      );
    }
    const hash = createHash("sha256");
    const buffer = new Uint8Array(1 << 16);
    let total = 0;
    for (;;) {
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, total);
      if (bytesRead === 0) break;
      hash.update(buffer.subarray(0, bytesRead));
      total += bytesRead;
    }
    const back = hash.digest("hex");
    if (total !== size || back !== sha256) {
      throw new LocalIoError(
        `verifying ${path} failed: the bytes read back differ from those written`,
      );
    }
  } catch (err) {
    if (err instanceof LocalIoError) throw err;
    throw ioError("verifying", path, err);
  } finally {
    await handle?.close().catch(() => {});
  }
}
