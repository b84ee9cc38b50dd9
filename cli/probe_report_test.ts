import assert from "node:assert/strict";
import { test } from "node:test";
import {
  certificateNames,
  daysLeft,
  type ProbeResult,
  renderProbe,
  verdict,
} from "./probe_report.ts";

const now = Date.parse("2027-01-01T00:00:00Z");
const leaf = {
  subject: "CN=mail.example.com",
  issuer: "CN=Example CA",
  subjectAltNames: ["DNS:mail.example.com", "IP:192.0.2.1"],
  validFrom: "2026-01-01T00:00:00.000Z",
  validTo: "2027-03-01T00:00:00.000Z",
};

function submission(extra: Partial<ProbeResult> = {}): ProbeResult {
  return {
    host: "mail.example.com",
    port: 587,
    protocol: "submission",
    detectedBy: "port",
    greeting: ["mail.example.com ESMTP"],
    greetingCode: 220,
    before: { capabilities: ["PIPELINING", "STARTTLS"], auth: [] },
    starttlsOffered: true,
    tls: {
      mode: "starttls",
      protocol: "TLSv1.3",
      cipher: "TLS_AES_256_GCM_SHA384",
      verified: true,
      name: "mail.example.com",
      chain: [leaf],
    },
    after: {
      capabilities: ["PIPELINING", "AUTH PLAIN LOGIN"],
      auth: ["PLAIN", "LOGIN"],
    },
    ...extra,
  };
}

test("the issue's example verdict: STARTTLS, valid until, AUTH only after TLS", () => {
  const v = verdict(submission(), now);
  assert.equal(v.level, "ok");
  assert.equal(
    v.text,
    "OK: STARTTLS offered (TLSv1.3), certificate valid for mail.example.com, 192.0.2.1 until 2027-03-01, AUTH only after TLS (PLAIN LOGIN)",
  );
});

test("verdicts: no STARTTLS on submission fails, on an MX warns; AUTH before TLS warns", () => {
  const noTls = submission({
    starttlsOffered: false,
    tls: undefined,
    after: undefined,
  });
  assert.equal(verdict(noTls, now).level, "fail");
  assert.match(
    verdict(noTls, now).text,
    /no STARTTLS: everything travels in clear text/,
  );
  assert.equal(
    verdict({
      ...noTls,
      protocol: "smtp",
      before: { capabilities: [], auth: [] },
    }, now).level,
    "warn",
  );
  const early = submission({ before: { capabilities: [], auth: ["PLAIN"] } });
  assert.equal(verdict(early, now).level, "warn");
  assert.match(
    verdict(early, now).text,
    /AUTH offered before TLS \(PLAIN\): passwords could cross in clear/,
  );
});

test("verdicts: an unverified certificate fails with the reason and a hint", () => {
  const r = submission();
  r.tls = {
    ...r.tls!,
    verified: false,
    reason: "untrusted",
    error: "self signed",
  };
  const v = verdict(r, now);
  assert.equal(v.level, "fail");
  assert.match(
    v.text,
    /certificate NOT valid for mail\.example\.com: not trusted.*--ca FILE/,
  );
});

test("verdicts: a certificate expiring within 14 days warns", () => {
  const r = submission();
  r.tls = {
    ...r.tls!,
    chain: [{ ...leaf, validTo: "2027-01-05T00:00:00.000Z" }],
  };
  const v = verdict(r, now);
  assert.equal(v.level, "warn");
  assert.match(v.text, /it expires in 4 day\(s\)/);
});

test("POP3 verdicts: USER before STLS warns; CRAM-MD5 only before TLS is named", () => {
  const pop: ProbeResult = {
    host: "pop.example.com",
    port: 110,
    protocol: "pop3",
    detectedBy: "port",
    greeting: ["ready"],
    before: { capabilities: ["USER", "STLS"], auth: ["PLAIN"], user: true },
    starttlsOffered: true,
    tls: {
      mode: "starttls",
      verified: true,
      name: "pop.example.com",
      chain: [leaf],
    },
    after: { capabilities: ["USER"], auth: ["PLAIN"], user: true },
  };
  assert.equal(verdict(pop, now).level, "warn");
  assert.match(
    verdict(pop, now).text,
    /login offered before TLS \(USER, SASL PLAIN\)/,
  );
  pop.before = {
    capabilities: ["STLS", "SASL CRAM-MD5"],
    auth: ["CRAM-MD5"],
    user: false,
  };
  const v = verdict(pop, now);
  assert.equal(v.level, "ok");
  assert.match(
    v.text,
    /before TLS login only by SASL CRAM-MD5; after TLS USER, SASL PLAIN/,
  );
});

test("certificate names and days left", () => {
  assert.deepEqual(certificateNames(leaf), ["mail.example.com", "192.0.2.1"]);
  assert.deepEqual(certificateNames({ subject: "O=x,CN=only.example" }), [
    "only.example",
  ]);
  assert.equal(daysLeft("2027-01-11T00:00:00Z", now), 10);
});

test("renderProbe: greeting, stages, chain, extensions, verdict", () => {
  const text = renderProbe({
    ...submission(),
    extensions: { SIZE: "1000", PIPELINING: true, DSN: false },
  }, now);
  assert.match(
    text,
    /^probe mail\.example\.com:587: submission \(from the port\)\n/,
  );
  assert.match(text, /\ngreeting: 220 mail\.example\.com ESMTP\n/);
  assert.match(
    text,
    /\nbefore TLS:\n {2}EHLO: PIPELINING, STARTTLS\n {2}AUTH: \(none\)\n/,
  );
  assert.match(
    text,
    /\nTLS: STARTTLS, TLSv1\.3, TLS_AES_256_GCM_SHA384, verified for mail\.example\.com\n/,
  );
  assert.match(
    text,
    /\n {4}valid: 2026-01-01 to 2027-03-01 \(59 days left\)\n/,
  );
  assert.match(text, /\nextensions: SIZE 1000, PIPELINING yes, DSN no\n/);
  assert.match(text, /\nverdict: OK: /);
});
