// The deliberate bugs of `npm run mutate` (scripts/mutate.mjs): one per safety rule and one per issue-8 fix, each with
// the tests that must fail under it. tests/mutants_test.ts checks that every edit still applies to the current code.

/**
 * A mutant: `edits` (each `find` must occur exactly once in `file`, so a stale list fails loudly instead of testing
 * nothing), the `tests` that must kill it, and the runner (`deno`, or `bun` with a name filter).
 */
export const MUTANTS = [
  // --- safety rules ---------------------------------------------------------------------------------------------------
  {
    name: "tls-verification-off",
    rule: "verify certificates (node:tls connector, Bun)",
    file: "tls/node.ts",
    edits: [[
      "const verify = tls.allowInvalidCertificates !== true;",
      "const verify = false;",
    ]],
    runner: "bun",
    filter: "certificate",
    tests: ["tests/hostile/smtp_test.ts", "tests/hostile/pop3_test.ts"],
  },
  {
    name: "starttls-injection-accepted",
    rule: "refuse bytes received before a TLS handshake",
    file: "io/channel.ts",
    edits: [[
      "async startTls(options: TlsOptions): Promise<void> {\n    if (this.#reader.buffered > 0) {",
      "async startTls(options: TlsOptions): Promise<void> {\n    if (false) {",
    ]],
    tests: ["tests/hostile/pop3_test.ts"],
  },
  {
    name: "auth-in-clear",
    rule: "TLS before AUTH",
    file: "io/client_options.ts",
    edits: [["if (!secure && !allowInsecureAuth) {", "if (false) {"]],
    tests: ["tests/hostile/smtp_test.ts"],
  },
  {
    name: "nul-allowed",
    rule: "refuse CR/LF/NUL in every argument",
    file: "io/validate.ts",
    edits: [["const UNSAFE = /[\\r\\n\\0]/;", "const UNSAFE = /[\\r\\n]/;"]],
    tests: ["tests/hostile/smtp_test.ts"],
  },
  {
    name: "no-dot-stuffing",
    rule: "dot-stuffing (DATA)",
    file: "io/dot.ts",
    edits: [
      ["if (lineStart && b === DOT && stuff) {", "if (false) {"],
      ["if (stuff && this.#lineStart && chunk[0] === DOT) return false;", ""],
      ["if (stuff && chunk[i + 1] === DOT) return false;", ""],
    ],
    tests: ["smtp/data_test.ts"],
  },
  {
    name: "bare-lf-kept",
    rule: "CRLF normalisation (no bare LF leaves)",
    file: "io/dot.ts",
    edits: [[
      "      } else if (b === LF) {\n        out[o++] = CR;\n        out[o++] = LF;",
      "      } else if (b === LF) {\n        out[o++] = LF;",
    ]],
    tests: ["smtp/data_test.ts"],
  },
  {
    name: "reply-line-cap-off",
    rule: "cap every reply (lines)",
    file: "io/smtp_reply.ts",
    edits: [["if (lines.length >= limits.maxLines) {", "if (false) {"]],
    tests: ["tests/hostile/smtp_test.ts"],
  },
  {
    name: "listing-entry-cap-off",
    rule: "caps count entries, not only bytes (POP3 listings)",
    file: "pop3/connection.ts",
    edits: [["      maxLines: this.o.maxListEntries,\n", ""]],
    tests: ["tests/hostile/pop3_test.ts"],
  },
  {
    name: "connect-not-bounded-by-connect-timeout",
    rule: "whole-call deadlines (connect() bounded by connectTimeout)",
    file: "io/session.ts",
    edits: [[
      "(options.connect ? this.#config.connectTimeout : this.#config.timeout)",
      "this.#config.timeout",
    ]],
    tests: ["tests/aborts/deadline_test.ts"],
  },
  {
    name: "deadline-reset-per-step",
    rule: "whole-call deadlines (no per-step reset)",
    file: "smtp/connection.ts",
    edits: [[
      '      await this.ehloOrHelo(d);\n      if (mode === "starttls"',
      '      await this.ehloOrHelo(this.session.deadline(undefined, this.o.connectTimeout));\n      if (mode === "starttls"',
    ]],
    tests: ["tests/aborts/deadline_test.ts"],
  },
  {
    name: "outcome-unknown-dropped",
    rule: "outcome unknown after the final dot",
    file: "smtp/transaction.ts",
    edits: [[
      "async function outcomeUnknown(s: Session, err: unknown): Promise<unknown> {\n",
      "async function outcomeUnknown(s: Session, err: unknown): Promise<unknown> {\n  return err;\n",
    ]],
    tests: ["tests/hostile/smtp_test.ts"],
  },
  {
    name: "delivery-folded-into-error",
    rule:
      "never fold a delivery into an error (LMTP; pipelined and one command at a time)",
    file: "smtp/job.ts",
    edits: [[
      "  if (delivered.length === 0) {\n    if (unknown.length > 0) {",
      "  if (delivered.length === 0 || unknown.length > 0) {\n    if (unknown.length > 0) {",
    ]],
    more: [{
      file: "smtp/transaction.ts",
      edits: [[
        "  if (delivered.length === 0) {\n    if (unknown.length > 0) {",
        "  if (delivered.length === 0 || unknown.length > 0) {\n    if (unknown.length > 0) {",
      ]],
    }],
    tests: ["smtp/lmtp_test.ts", "tests/aborts/smtp_test.ts"],
  },
  {
    name: "auth-line-logged",
    rule: "redact credentials in every log",
    file: "io/sasl.ts",
    edits: [["`AUTH ${name} <redacted>`", "`AUTH ${name} ${initial}`"]],
    tests: ["tests/hostile/smtp_test.ts"],
  },
  {
    name: "pass-logged",
    rule: "redact credentials in every log (POP3 PASS)",
    file: "pop3/commands.ts",
    edits: [[
      'if (verb === "PASS") return `${line.slice(0, first)} <redacted>`;',
      "",
    ]],
    tests: ["tests/hostile/pop3_test.ts"],
  },
  {
    name: "tls-mode-unchecked",
    rule: "strict options: the tls mode never silently becomes none",
    file: "smtp/options.ts",
    edits: [[
      'tls: tlsOption(["starttls", "implicit", "opportunistic", "none"]),',
      "tls: () => {},",
    ]],
    tests: ["tests/options_test.ts"],
  },
  {
    name: "unknown-option-ignored",
    rule: "strict options: unknown keys refused",
    file: "io/options.ts",
    edits: [[
      "    const check = spec[key];\n    if (!check) {",
      "    const check = spec[key];\n    if (!check) continue;\n    if (!check) {",
    ]],
    tests: ["tests/options_test.ts"],
  },
  // --- issue 8 ----------------------------------------------------------------------------------------------------------
  {
    name: "issue8-1-quadratic-auth-merge",
    rule: "issue 8 #1: merging EHLO AUTH lists is linear",
    file: "smtp/commands.ts",
    edits: [[
      'for (const name of params.split(" ")) if (name) auth.add(name);',
      'for (const name of params.split(" ")) if (name && ![...auth].includes(name)) auth.add(name);',
    ]],
    tests: ["tests/hostile/smtp_test.ts"],
  },
  {
    name: "issue8-2-backtracking-apop-regex",
    rule: "issue 8 #2: no super-linear regex over server data (APOP)",
    file: "pop3/apop.ts",
    edits: [[
      "export function findApopTimestamp(greeting: string): string | undefined {\n",
      "export function findApopTimestamp(greeting: string): string | undefined {\n  const m = /<[^>]*@[^>]*>/.exec(greeting);\n  if (m || !m) return m ? m[0] : undefined;\n",
    ]],
    tests: ["tests/hostile/pop3_test.ts"],
  },
  {
    name: "issue8-3-lmtp-421-throws",
    rule: "issue 8 #3: a 421 between LMTP replies keeps the deliveries",
    file: "smtp/pipeline.ts",
    edits: [[
      "reply = w.read(job.in.d, true);",
      "reply = w.read(job.in.d);",
    ]],
    more: [{
      file: "smtp/transaction.ts",
      edits: [[
        "      reply = await w.read(d, true);",
        "      reply = await w.read(d);",
      ]],
    }],
    tests: ["smtp/lmtp_test.ts"],
  },
  {
    name: "issue8-4-refusal-hidden-by-hangup",
    rule: "issue 8 #4: all RCPTs refused then a hang-up reports the refusal",
    file: "smtp/job.ts",
    // The pipeline keeps the refusal it read; a hang-up must not replace it.
    edits: [
      [
        "if (job.refusal !== undefined && !(job.refusal instanceof SmtpNotSentError)) {",
        "if (false) {",
      ],
      ["if (job.envelopeRead && !job.envelopeOk) {", "if (false) {"],
    ],
    tests: ["tests/hostile/smtp_test.ts"],
  },
  {
    name: "issue8-5-lossy-uids",
    rule: "issue 8 #5: UIDs are exact 0x21-0x7E, never a lossy string",
    file: "pop3/parse.ts",
    edits: [[
      "for (; c >= 0x21 && c <= 0x7e; c = codeAt(text, ++i));",
      "for (; c >= 0x21 && c !== 0x7f; c = codeAt(text, ++i));",
    ]],
    tests: ["tests/hostile/pop3_test.ts"],
  },
  {
    name: "issue8-6-credentials-checked-late",
    rule: "issue 8 #6: every credential checked before the first byte (POP3)",
    file: "pop3/connection.ts",
    edits: [
      [
        "    assertCredentials(credentials); // before a byte is sent (CAPA included)\n",
        "",
      ],
      [
        "    checkCredentials(credentials); // types, control characters, lone surrogates\n",
        "",
      ],
    ],
    more: [{
      file: "io/oauth.ts",
      edits: [[
        '  assertCredentials(\n    typeof provider === "function" ? rest : credentials as Credentials,\n  );\n',
        "",
      ]],
    }],
    tests: ["tests/hostile/pop3_test.ts"],
  },
  {
    name: "issue8-7-timeout-unchecked",
    rule: "issue 8 #7: NaN, negative or string timeouts refused",
    file: "io/options.ts",
    edits: [[
      "export const timeout: Check = (value, name) => {\n",
      "export const timeout: Check = (value, name) => {\n  if (value === value || value !== value) return;\n",
    ]],
    tests: ["tests/hostile/smtp_test.ts"],
  },
  {
    name: "issue8-8-port-range-unchecked",
    rule:
      "issue 8 #8: an out-of-range port is the same typed error everywhere, before a socket",
    file: "io/options.ts",
    edits: [[
      "if (value < (allowZero ? 0 : 1) || value > 65535) {",
      "if (false) {",
    ]],
    tests: ["tests/hostile/smtp_test.ts"],
  },
  {
    name: "issue8-9-nul-in-socket-path",
    rule: "issue 8 #9: CR/LF/NUL refused in socket paths",
    file: "smtp/options.ts",
    edits: [["  path: safeString,", "  path: () => {},"]],
    tests: ["tests/hostile/lmtp_unix_test.ts"],
  },
  {
    name: "issue8-10-apop-unasked",
    rule: "issue 8 #10: APOP only when asked",
    file: "pop3/login.ts",
    edits: [[
      "if (s.apop === true && s.timestamp !== undefined) {",
      "if (s.timestamp !== undefined) {",
    ]],
    tests: ["tests/hostile/pop3_test.ts"],
  },
  {
    name: "issue8-11-whitespace-challenge-fatal",
    rule: "issue 8 #11: a whitespace-only challenge doesn't kill AUTH",
    file: "auth/authenticate.ts",
    // The old behaviour: every challenge decoded strictly, the held-back initial response's one included.
    edits: [
      [
        "if (pending !== null) {",
        "if (pending !== null && decodeBase64(step.challenge).length >= 0) {",
      ],
      [
        "challenge = decodeBase64(trimChallenge(step.challenge));",
        "challenge = decodeBase64(step.challenge);",
      ],
      ["if (mechanism.ignoresChallenges !== true) {", "if (true) {"],
    ],
    tests: ["tests/hostile/smtp_test.ts"],
  },
];
