// What `mailwire probe` found, the verdict drawn from it, and its text rendering (pure functions, tested without a server).

import type { CertificateInfo, TlsFailure } from "../tls/mod.ts";

/** The protocols probe tells apart. */
export type ProbeProtocol =
  | "smtp"
  | "submission"
  | "smtps"
  | "lmtp"
  | "pop3"
  | "pop3s";

/** Capabilities seen at one stage (before or after TLS). */
export interface ProbeStage {
  /** EHLO/LHLO keywords with parameters, or CAPA lines, as the server sent them. */
  capabilities: string[];
  /** SASL mechanisms offered (SMTP AUTH, POP3 SASL). */
  auth: string[];
  /** POP3: USER offered (plaintext login). */
  user?: boolean;
}

/** The TLS session, as far as the runtime tells. */
export interface ProbeTls {
  /** How TLS was reached. */
  mode: "implicit" | "starttls";
  protocol?: string;
  cipher?: string;
  /** Whether the chain verified for the name checked. */
  verified: boolean;
  /** The name checked (servername, else the host). */
  name: string;
  /** Why verification failed. */
  reason?: TlsFailure;
  /** The verification error's text. */
  error?: string;
  /** The peer's chain, leaf first. */
  chain: CertificateInfo[];
}

/** Everything probe learned. */
export interface ProbeResult {
  host: string;
  port: number;
  protocol: ProbeProtocol;
  /** How the protocol was chosen. */
  detectedBy: "flag" | "port" | "greeting";
  /** The greeting's text lines (without the code for SMTP). */
  greeting: string[];
  /** SMTP: the greeting's code. */
  greetingCode?: number;
  /** Before TLS (absent for implicit TLS). */
  before?: ProbeStage;
  /** STARTTLS/STLS advertised before TLS. */
  starttlsOffered?: boolean;
  /** The TLS session, when one was made. */
  tls?: ProbeTls;
  /** Why TLS could not be made at all (handshake failed even unverified). */
  tlsFailure?: string;
  /** After TLS. */
  after?: ProbeStage;
  /** SMTP: the extensions mailwire cares about (from the last EHLO). */
  extensions?: Record<string, string | boolean>;
  /** The verdict: level and one line. */
  verdict?: { level: "ok" | "warn" | "fail"; text: string };
}

const PLAINTEXT_MECHS = new Set(["PLAIN", "LOGIN"]);

/** Names a certificate is valid for: its DNS and IP subjectAltNames, else its CN. */
export function certificateNames(cert: CertificateInfo | undefined): string[] {
  const sans = (cert?.subjectAltNames ?? []).map((n) =>
    n.replace(/^(DNS|IP|IP Address):/, "")
  );
  if (sans.length) return sans;
  const cn = /(?:^|,)CN=([^,]+)/.exec(cert?.subject ?? "")?.[1];
  return cn ? [cn] : [];
}

/** `2029-03-06T17:14:17.000Z` → `2029-03-06`. */
function day(iso: string | undefined): string {
  return iso?.slice(0, 10) ?? "?";
}

/** Days from `now` until `iso` (negative when past). */
export function daysLeft(
  iso: string | undefined,
  now = Date.now(),
): number | undefined {
  if (!iso) return undefined;
  const t = Date.parse(iso);
  return Number.isNaN(t) ? undefined : Math.floor((t - now) / 86_400_000);
}

function nameList(names: string[]): string {
  return names.length > 3
    ? `${names.slice(0, 3).join(", ")} (+${names.length - 3} more)`
    : names.join(", ");
}

const REASONS: Record<TlsFailure, string> = {
  untrusted:
    "not trusted: unknown CA or self-signed; trust its CA with --ca FILE",
  "name-mismatch":
    "not valid for this name; check the host name or --servername",
  expired: "expired or not yet valid",
  "not-tls": "the server did not answer in TLS",
  other: "not verified",
};

/** The verdict line and level for a probe result. */
export function verdict(
  r: ProbeResult,
  now = Date.now(),
): { level: "ok" | "warn" | "fail"; text: string } {
  const parts: string[] = [];
  let level: "ok" | "warn" | "fail" = "ok";
  const worse = (l: "warn" | "fail") => {
    if (l === "fail" || level === "ok") level = l;
  };
  const pop = r.protocol === "pop3" || r.protocol === "pop3s";
  const implicit = r.protocol === "smtps" || r.protocol === "pop3s";
  const needsTls = r.protocol !== "smtp" && r.protocol !== "lmtp";
  const word = pop ? "STLS" : "STARTTLS";
  // TLS
  if (implicit) {
    parts.push(`implicit TLS${r.tls?.protocol ? ` (${r.tls.protocol})` : ""}`);
  } else if (r.starttlsOffered) {
    parts.push(
      `${word} offered${r.tls?.protocol ? ` (${r.tls.protocol})` : ""}`,
    );
  } else {
    parts.push(`no ${word}: everything travels in clear text`);
    worse(needsTls ? "fail" : "warn");
  }
  if (r.tlsFailure) {
    parts.push(`TLS handshake failed: ${r.tlsFailure}`);
    worse("fail");
  }
  // Certificate
  if (r.tls) {
    const leaf = r.tls.chain[0];
    const names = certificateNames(leaf);
    const until = day(leaf?.validTo);
    if (r.tls.verified) {
      const left = daysLeft(leaf?.validTo, now);
      parts.push(
        `certificate valid for ${nameList(names) || r.tls.name}${
          leaf?.validTo ? ` until ${until}` : ""
        }`,
      );
      if (left !== undefined && left < 14) {
        parts.push(`it expires in ${left} day(s)`);
        worse("warn");
      }
    } else {
      const why = REASONS[r.tls.reason ?? "other"];
      parts.push(
        `certificate NOT valid for ${r.tls.name}: ${why}` +
          (names.length
            ? ` (it names ${nameList(names)}${
              leaf?.validTo ? `, until ${until}` : ""
            })`
            : ""),
      );
      worse("fail");
    }
  }
  // Authentication
  const before = r.before;
  const mechsBefore = before?.auth ?? [];
  const mechsAfter = r.after?.auth ?? [];
  if (pop) {
    const loginBefore = [
      ...(before?.user ? ["USER"] : []),
      ...mechsBefore.map((m) => `SASL ${m}`),
    ];
    const loginAfter = [
      ...(r.after?.user ? ["USER"] : []),
      ...mechsAfter.map((m) => `SASL ${m}`),
    ];
    if (
      !implicit &&
      loginBefore.some((m) => m === "USER" || PLAINTEXT_MECHS.has(m.slice(5)))
    ) {
      parts.push(
        `login offered before TLS (${
          loginBefore.join(", ")
        }): passwords could cross in clear`,
      );
      worse("warn");
    } else if (!implicit && loginBefore.length) {
      parts.push(
        `before TLS login only by ${loginBefore.join(", ")}; after TLS ${
          loginAfter.join(", ") || "none"
        }`,
      );
    } else if (!implicit && r.starttlsOffered) {
      parts.push(`login only after TLS (${loginAfter.join(", ") || "none"})`);
    } else if (loginAfter.length) parts.push(`login: ${loginAfter.join(", ")}`);
  } else if (mechsBefore.length) {
    const clear = mechsBefore.filter((m) => PLAINTEXT_MECHS.has(m));
    parts.push(
      `AUTH offered before TLS (${mechsBefore.join(" ")})` +
        (clear.length ? ": passwords could cross in clear" : ""),
    );
    worse("warn");
  } else if (mechsAfter.length) {
    parts.push(
      implicit
        ? `AUTH ${mechsAfter.join(" ")}`
        : `AUTH only after TLS (${mechsAfter.join(" ")})`,
    );
  } else parts.push("no AUTH");
  return { level, text: `${level.toUpperCase()}: ${parts.join(", ")}` };
}

function stageLines(
  label: string,
  stage: ProbeStage,
  protocol: ProbeProtocol,
): string[] {
  const pop = protocol === "pop3" || protocol === "pop3s";
  const out = [`${label}:`];
  const verb = pop ? "CAPA" : protocol === "lmtp" ? "LHLO" : "EHLO";
  out.push(`  ${verb}: ${stage.capabilities.join(", ") || "(none)"}`);
  out.push(`  ${pop ? "SASL" : "AUTH"}: ${stage.auth.join(" ") || "(none)"}`);
  if (pop) out.push(`  USER: ${stage.user ? "yes" : "no"}`);
  return out;
}

/** The text report of a probe. */
export function renderProbe(r: ProbeResult, now = Date.now()): string {
  const pop = r.protocol === "pop3" || r.protocol === "pop3s";
  const by = r.detectedBy === "flag" ? "as asked" : `from the ${r.detectedBy}`;
  const lines = [`probe ${r.host}:${r.port}: ${r.protocol} (${by})`];
  const code = r.greetingCode !== undefined
    ? `${r.greetingCode} `
    : pop
    ? "+OK "
    : "";
  r.greeting.forEach((g, i) =>
    lines.push(`${i === 0 ? "greeting: " : "          "}${code}${g}`)
  );
  if (r.before) lines.push(...stageLines("before TLS", r.before, r.protocol));
  if (r.tlsFailure) lines.push(`TLS: failed: ${r.tlsFailure}`);
  if (r.tls) {
    const t = r.tls;
    lines.push(
      `TLS: ${
        t.mode === "implicit" ? "implicit" : pop ? "STLS" : "STARTTLS"
      }, ${t.protocol ?? "version unknown"}, ${t.cipher ?? "cipher unknown"}, ${
        t.verified
          ? `verified for ${t.name}`
          : `NOT verified for ${t.name}${t.error ? `: ${t.error}` : ""}`
      }`,
    );
    t.chain.forEach((c, i) => {
      lines.push(`  certificate ${i + 1}: ${c.subject ?? "?"}`);
      lines.push(
        `    issuer: ${c.issuer ?? "?"}${
          c.issuer && c.issuer === c.subject ? " (self-signed)" : ""
        }`,
      );
      if (c.subjectAltNames?.length) {
        lines.push(`    names: ${c.subjectAltNames.join(", ")}`);
      }
      const left = daysLeft(c.validTo, now);
      lines.push(
        `    valid: ${day(c.validFrom)} to ${day(c.validTo)}${
          left === undefined
            ? ""
            : left < 0
            ? " (EXPIRED)"
            : ` (${left} days left)`
        }`,
      );
      if (c.fingerprint256) lines.push(`    sha256: ${c.fingerprint256}`);
    });
  }
  if (r.after) lines.push(...stageLines("after TLS", r.after, r.protocol));
  if (r.extensions) {
    lines.push(
      `extensions: ${
        Object.entries(r.extensions).map(([k, v]) =>
          `${k} ${v === true ? "yes" : v === false ? "no" : v}`
        ).join(", ")
      }`,
    );
  }
  const v = r.verdict ?? verdict(r, now);
  lines.push(`verdict: ${v.text}`);
  return lines.join("\n") + "\n";
}
