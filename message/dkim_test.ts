import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { InvalidInputError } from "../errors.ts";
import { composeMessage } from "./compose.ts";
import {
  BodyCanonicalizer,
  type DkimCanonicalization,
  dkimDnsRecord,
  dkimSign,
} from "./dkim.ts";
import { repoFile } from "../tests/repo.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();
const verifier = fileURLToPath(
  repoFile("tests/fixtures/messages/dkim_verify.py"),
);

/** dkimpy (python3-dkim) verdict for `bytes`, the key record served for sel._domainkey.example.com. */
function dkimpy(bytes: Uint8Array, record: string): string {
  const r = spawnSync("/usr/bin/python3", [
    verifier,
    "sel._domainkey.example.com",
    record,
  ], { input: bytes });
  if (r.status === 2 || r.error) {
    throw new Error(
      `the dkim verifier needs python3 and python3-dkim (apt-get install -y python3-dkim): ${r.stdout}${r.stderr}${
        r.error ?? ""
      }`,
    );
  }
  return r.stdout.toString().trim();
}

async function keys(
  alg: "rsa-sha256" | "ed25519-sha256",
): Promise<CryptoKeyPair> {
  return alg === "rsa-sha256"
    ? await crypto.subtle.generateKey(
      {
        name: "RSASSA-PKCS1-v1_5",
        modulusLength: 2048,
        publicExponent: new Uint8Array([1, 0, 1]),
        hash: "SHA-256",
      },
      true,
      ["sign", "verify"],
    ) as CryptoKeyPair
    : await crypto.subtle.generateKey({ name: "Ed25519" }, true, [
      "sign",
      "verify",
    ]) as CryptoKeyPair;
}

const CANON: DkimCanonicalization[] = [
  "simple/simple",
  "relaxed/relaxed",
  "simple/relaxed",
  "relaxed/simple",
];

function hard() {
  return composeMessage({
    from: { name: "Jörg Müller", address: "j@example.com" },
    to: ["b@example.org", "Carol <c@example.org>"],
    cc: "d@example.org",
    subject:
      "Grüße   with  runs of  spaces and a subject long enough to fold over lines",
    text: "Hello  \t\nline with trailing blanks   \n\n\n",
    html: "<p>x</p>",
    headers: { "List-Unsubscribe": "<mailto:u@example.com>" },
    attachments: [
      { filename: "a.bin", content: new Uint8Array(5000).map((_, i) => i) },
      { filename: "b.txt", content: new Blob(["blob content"]) },
    ],
  });
}

for (const alg of ["rsa-sha256", "ed25519-sha256"] as const) {
  test(`dkim ${alg}: dkimpy verifies composed messages in every canonicalization`, async () => {
    const kp = await keys(alg);
    const record = await dkimDnsRecord(kp.publicKey);
    for (const c of CANON) {
      const signed = await dkimSign(hard(), {
        domain: "example.com",
        selector: "sel",
        privateKey: kp.privateKey,
        algorithm: alg,
        canonicalization: c,
      });
      const bytes = await signed.bytes();
      assert.equal(signed.size, bytes.length);
      assert.equal(dkimpy(bytes, record), "pass", `${alg} ${c}`);
      // A changed body or a changed header fails.
      const text = dec.decode(bytes);
      assert.notEqual(
        dkimpy(enc.encode(text.replace("Hello", "Jello")), record),
        "pass",
      );
      assert.notEqual(
        dkimpy(enc.encode(text.replace("Subject: ", "Subject: X")), record),
        "pass",
      );
    }
  });

  test(`dkim ${alg}: raw bytes (LF line ends too) verify`, async () => {
    const kp = await keys(alg);
    const record = await dkimDnsRecord(kp.publicKey);
    for (const c of CANON) {
      const raw =
        "From: a@example.com\nTo: b@example.org\nSubject:  hi  there\n\nbody  line \n\n";
      const signed = await dkimSign(raw, {
        domain: "example.com",
        selector: "sel",
        privateKey: kp.privateKey,
        algorithm: alg,
        canonicalization: c,
      });
      // What the SMTP client sends: line ends as CRLF.
      const wire = dec.decode(signed).replace(/\r?\n/g, "\r\n");
      assert.equal(dkimpy(enc.encode(wire), record), "pass", `${alg} ${c}`);
    }
  });
}

test("dkim: PEM keys (PKCS#8 and PKCS#1 RSA, PKCS#8 Ed25519) and a raw Ed25519 seed", async () => {
  const tmp = fileURLToPath(repoFile(".tmp/"));
  const run = (args: string[]) => {
    const r = spawnSync("openssl", args, { cwd: tmp });
    assert.equal(r.status, 0, `openssl ${args.join(" ")}: ${r.stderr}`);
    return r.stdout.toString();
  };
  const rsa8 = run([
    "genpkey",
    "-algorithm",
    "RSA",
    "-pkeyopt",
    "rsa_keygen_bits:2048",
  ]);
  const rsa1 = spawnSync("openssl", ["pkey", "-traditional"], { input: rsa8 })
    .stdout.toString();
  assert.match(rsa1, /BEGIN RSA PRIVATE KEY/);
  const pub = spawnSync("openssl", ["pkey", "-pubout", "-outform", "DER"], {
    input: rsa8,
  }).stdout;
  const record = `v=DKIM1; k=rsa; p=${pub.toString("base64")}`;
  for (const pem of [rsa8, rsa1]) {
    const signed = await dkimSign(hard(), {
      domain: "example.com",
      selector: "sel",
      privateKey: pem,
      algorithm: "rsa-sha256",
    });
    assert.equal(dkimpy(await signed.bytes(), record), "pass");
  }
  const ed = run(["genpkey", "-algorithm", "ED25519"]);
  const edPub =
    spawnSync("openssl", ["pkey", "-pubout", "-outform", "DER"], { input: ed })
      .stdout;
  const edRecord = `v=DKIM1; k=ed25519; p=${
    edPub.subarray(edPub.length - 32).toString("base64")
  }`;
  const signedEd = await dkimSign(hard(), {
    domain: "example.com",
    selector: "sel",
    privateKey: ed,
    algorithm: "ed25519-sha256",
  });
  assert.equal(dkimpy(await signedEd.bytes(), edRecord), "pass");
  const der =
    spawnSync("openssl", ["pkey", "-outform", "DER"], { input: ed }).stdout;
  const seed = new Uint8Array(der.subarray(der.length - 32));
  const signedSeed = await dkimSign(hard(), {
    domain: "example.com",
    selector: "sel",
    privateKey: seed,
    algorithm: "ed25519-sha256",
  });
  assert.equal(dkimpy(await signedSeed.bytes(), edRecord), "pass");
});

test("dkim: the signed message streams the body again (no copy held), keeps envelope and flags; one-shot streams refused", async () => {
  const kp = await keys("ed25519-sha256");
  const m = hard();
  const s = await dkimSign(m, {
    domain: "example.com",
    selector: "sel",
    privateKey: kp.privateKey,
    algorithm: "ed25519-sha256",
  });
  assert.deepEqual(s.envelope, m.envelope);
  assert.equal(s.messageId, m.messageId);
  assert.deepEqual(await s.bytes(), await s.bytes());
  const plain = dec.decode(await m.bytes());
  const signed = dec.decode(await s.bytes());
  assert.ok(
    signed.startsWith(
      "DKIM-Signature: v=1; a=ed25519-sha256; c=relaxed/relaxed; d=example.com;",
    ),
  );
  assert.ok(signed.endsWith(plain));
  for (
    const line of signed.slice(0, signed.indexOf("\r\n\r\n")).split("\r\n")
  ) assert.ok(line.length <= 78, line);
  const once = composeMessage({
    from: "a@example.com",
    attachments: [{ content: new Blob(["x"]).stream() }],
  });
  await assert.rejects(
    dkimSign(once, {
      domain: "example.com",
      selector: "sel",
      privateKey: kp.privateKey,
      algorithm: "ed25519-sha256",
    }),
    /ReadableStream, read once/,
  );
});

test("dkim: options are checked (unknown keys, tag syntax, wrong key type, From required)", async () => {
  const kp = await keys("ed25519-sha256");
  const o = {
    domain: "example.com",
    selector: "sel",
    privateKey: kp.privateKey,
    algorithm: "ed25519-sha256" as const,
  };
  const m = composeMessage({ from: "a@example.com", text: "x" });
  await assert.rejects(
    dkimSign(m, { ...o, secret: 1 } as never),
    /unknown dkim option/,
  );
  await assert.rejects(dkimSign(m, { ...o, domain: "a b" }), InvalidInputError);
  await assert.rejects(
    dkimSign(m, { ...o, selector: "x;y" }),
    InvalidInputError,
  );
  await assert.rejects(
    dkimSign(m, { ...o, algorithm: "rsa-sha256" }),
    /not one for rsa-sha256/,
  );
  await assert.rejects(
    dkimSign(m, { ...o, headers: ["subject"] }),
    /must include from/,
  );
  await assert.rejects(
    dkimSign(m, { ...o, privateKey: "not a pem" }),
    /not a pem/,
  );
  await assert.rejects(
    dkimSign(m, { ...o, canonicalization: "nowsp/simple" as never }),
    InvalidInputError,
  );
});

function canon(relaxed: boolean, chunks: string[]): string {
  let out = "";
  const c = new BodyCanonicalizer(relaxed, {
    update: (b: Uint8Array) => (out += dec.decode(b)),
  });
  for (const ch of chunks) c.push(enc.encode(ch));
  c.end();
  return out;
}

test("dkim body canonicalization: RFC 6376 §3.4.5 example, empty bodies, any chunking", () => {
  const body = " C \r\nD \t E\r\n\r\n\r\n";
  assert.equal(canon(true, [body]), " C\r\nD E\r\n");
  assert.equal(canon(false, [body]), " C \r\nD \t E\r\n");
  assert.equal(canon(false, []), "\r\n");
  assert.equal(canon(true, []), "");
  assert.equal(canon(false, ["\r\n\r\n"]), "\r\n");
  assert.equal(canon(true, [" \r\n"]), "");
  assert.equal(canon(false, ["no end"]), "no end\r\n");
  assert.equal(canon(false, ["a\nb\rc"]), "a\r\nb\r\nc\r\n");
  for (let i = 0; i <= body.length; i++) {
    for (const r of [true, false]) {
      assert.equal(
        canon(r, [body.slice(0, i), body.slice(i)]),
        canon(r, [body]),
        `split at ${i}`,
      );
    }
  }
});
