// Test-only: a worker that composes and DKIM-signs messages with workerd's WebCrypto (rsa-sha256 and ed25519-sha256, every canonicalization) and prints them for run.ts to verify with dkimpy.

import { composeMessage, dkimDnsRecord, dkimSign } from "../../message/mod.ts";
import type { DkimCanonicalization } from "../../message/mod.ts";

const CANON: DkimCanonicalization[] = [
  "simple/simple",
  "relaxed/relaxed",
  "simple/relaxed",
  "relaxed/simple",
];

function base64(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(s);
}

async function keys(alg: "rsa-sha256" | "ed25519-sha256") {
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

export default {
  async test(): Promise<void> {
    for (const algorithm of ["rsa-sha256", "ed25519-sha256"] as const) {
      const pair = await keys(algorithm);
      const record = await dkimDnsRecord(pair.publicKey);
      for (const canonicalization of CANON) {
        const message = composeMessage({
          from: { name: "Jörg Müller", address: "j@example.com" },
          to: ["b@example.org", "Carol <c@example.org>"],
          subject: "Grüße from   workerd, folded over lines because it is long",
          text: "Hello  \t\nline with trailing blanks   \n\n\n",
          html: "<p>x</p>",
          attachments: [{
            filename: "a.bin",
            content: new Uint8Array(5000).map((_, i) => i),
          }],
        });
        const signed = await dkimSign(message, {
          domain: "example.com",
          selector: "sel",
          privateKey: pair.privateKey,
          algorithm,
          canonicalization,
        });
        console.log(
          `mailwire-dkim ${algorithm} ${canonicalization} ${btoa(record)} ${
            base64(await signed.bytes())
          }`,
        );
      }
    }
  },
};
