import assert from "node:assert/strict";
import { test } from "node:test";
import {
  appendFile,
  mkdtemp,
  readdir,
  readFile,
  rm,
  writeFile,
} from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  JOURNAL,
  maildirName,
  MessageStore,
  uidFileName,
  verify,
} from "./store.ts";
import { LocalIoError, UsageError } from "./exit.ts";

const enc = new TextEncoder();

async function tempDir(): Promise<string> {
  return await mkdtemp(join(tmpdir(), "mailwire-store-"));
}

test("uidFileName: safe, injective, apart on case-insensitive file systems", () => {
  assert.equal(uidFileName("000000016b10521f"), "000000016b10521f.eml");
  const hostile = [
    "../../etc/passwd",
    "a/b",
    "a\\b",
    "a:b",
    ".hidden",
    "%2F",
    "/",
    'con*?<>|"',
  ];
  const names = new Set<string>();
  for (const uid of hostile) {
    const name = uidFileName(uid);
    assert.doesNotMatch(name, /[/\\:*?"<>|]/, name);
    assert.ok(!name.startsWith("."), name);
    names.add(name);
  }
  assert.equal(names.size, hostile.length, "distinct uids, distinct names");
  assert.notEqual(uidFileName("%2F"), uidFileName("/"));
  const upper = uidFileName("AbC");
  const lower = uidFileName("abc");
  assert.notEqual(upper.toLowerCase(), lower.toLowerCase());
  assert.ok(uidFileName("x".repeat(5000)).length < 200);
});

test("maildirName: unique, no / or :, carries the size", () => {
  const names = new Set(Array.from({ length: 1000 }, () => maildirName(42)));
  assert.equal(names.size, 1000);
  for (const n of names) {
    assert.doesNotMatch(n, /[/:]/);
    assert.match(n, /,S=42$/);
  }
});

test("save into a Maildir: tmp/ → new/, verified, journalled; reopen knows it", async () => {
  const dir = await tempDir();
  try {
    const store = await MessageStore.open(dir, "maildir", "me@host:110");
    const chunks = (async function* () {
      yield enc.encode("Subject: one\r\n\r\n");
      yield enc.encode("body\r\n");
    })();
    let seen = 0;
    const entry = await store.save("uid-1", chunks, 22, (n) => (seen = n));
    assert.equal(seen, 22);
    assert.equal(entry.size, 22);
    assert.deepEqual(await readdir(join(dir, "tmp")), []);
    const files = await readdir(join(dir, "new"));
    assert.equal(files.length, 1);
    assert.equal(
      await readFile(join(dir, "new", files[0]), "utf8"),
      "Subject: one\r\n\r\nbody\r\n",
    );
    await store.close();
    const again = await MessageStore.open(dir, "maildir", "me@host:110");
    assert.ok(again.has("uid-1"));
    assert.equal(again.size, 1);
    await again.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("a crash after the journal entry, before the move, is completed at the next open", async () => {
  const dir = await tempDir();
  try {
    const store = await MessageStore.open(dir, "maildir", "me@host:110");
    const entry = await store.save("uid-1", enc.encode("x\r\n"), 3);
    await store.close();
    // Put the file back in tmp/ as if the rename never happened.
    const { rename } = await import("node:fs/promises");
    await rename(join(dir, entry.file), join(dir, entry.tmp));
    const again = await MessageStore.open(dir, "maildir", "me@host:110");
    assert.equal(again.recovered, 1);
    assert.deepEqual(await readdir(join(dir, "new")), [entry.file.slice(4)]);
    assert.deepEqual(await readdir(join(dir, "tmp")), []);
    await again.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("a torn last journal line is ignored; a damaged line is an error; another account is refused", async () => {
  const dir = await tempDir();
  try {
    const store = await MessageStore.open(dir, "eml", "me@host:110");
    await store.save("a", enc.encode("a\r\n"), 3);
    await store.close();
    await appendFile(join(dir, JOURNAL), '{"uid":"b","file":"b.eml"');
    const again = await MessageStore.open(dir, "eml", "me@host:110");
    assert.ok(again.has("a"));
    assert.ok(!again.has("b"));
    await again.close();
    await assert.rejects(
      MessageStore.open(dir, "eml", "other@host:110"),
      UsageError,
    );
    await writeFile(join(dir, JOURNAL), "not json\n");
    await assert.rejects(
      MessageStore.open(dir, "eml", "me@host:110"),
      LocalIoError,
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test(".eml files are named by UIDL; a foreign file of that name is kept", async () => {
  const dir = await tempDir();
  try {
    await writeFile(join(dir, "u1.eml"), "mine, not mailwire's");
    const store = await MessageStore.open(dir, "eml", "me@host:110");
    const e = await store.save("u1", enc.encode("m\r\n"), 3);
    assert.equal(e.file, "u1~2.eml");
    assert.equal(
      await readFile(join(dir, "u1.eml"), "utf8"),
      "mine, not mailwire's",
    );
    const names = (await readdir(dir)).filter((n) => !n.startsWith("."));
    assert.deepEqual(names.sort(), ["u1.eml", "u1~2.eml"]);
    await store.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("a failing download leaves no file and no journal entry", async () => {
  const dir = await tempDir();
  try {
    const store = await MessageStore.open(dir, "maildir", "me@host:110");
    const broken = (async function* () {
      yield enc.encode("partial");
      throw new Error("connection lost");
    })();
    await assert.rejects(store.save("u", broken, 100), /connection lost/);
    assert.ok(!store.has("u"));
    assert.deepEqual(await readdir(join(dir, "tmp")), []);
    assert.deepEqual(await readdir(join(dir, "new")), []);
    await store.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("verify: a size or content mismatch is a LocalIoError", async () => {
  const dir = await tempDir();
  try {
    const path = join(dir, "f");
    await writeFile(path, "abc");
    await verify(
      path,
      3,
      "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
    );
    await assert.rejects(verify(path, 4, "x"), /4 written/);
    await assert.rejects(verify(path, 3, "00"), /differ/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
