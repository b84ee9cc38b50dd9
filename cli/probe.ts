// `mailwire probe host:port`: what an SMTP, submission, SMTPS, LMTP, POP3 or POP3S server offers, before and after TLS, and a verdict. Never logs in.

import {
  LmtpClient,
  SmtpClient,
  type SmtpClientOptions,
  SmtpHeloError,
} from "../smtp/mod.ts";
import { Pop3Client, type Pop3ClientOptions } from "../pop3/mod.ts";
import {
  type Conn,
  nodeConnector,
  ProtocolError,
  TlsError,
  type TlsInfo,
} from "../tls/mod.ts";
import {
  flag,
  type OptionSpec,
  parseChoice,
  parseCommand,
  str,
} from "./args.ts";
import {
  COMMON_SPEC,
  type Connection,
  connection,
  type Context,
} from "./common.ts";
import { EXIT, type ExitCode, UsageError } from "./exit.ts";
import { PROBE_HELP } from "./help.ts";
import {
  type ProbeProtocol,
  type ProbeResult,
  type ProbeStage,
  type ProbeTls,
  renderProbe,
  verdict,
} from "./probe_report.ts";

const SPEC: Record<string, OptionSpec> = {
  ...COMMON_SPEC,
  protocol: { type: "string" },
  json: { type: "boolean" },
  "local-name": { type: "string" },
};

const PROTOCOLS: readonly ProbeProtocol[] = [
  "smtp",
  "submission",
  "smtps",
  "lmtp",
  "pop3",
  "pop3s",
];

/** The protocol a well-known port speaks. */
export const PORTS: Readonly<Record<number, ProbeProtocol>> = {
  25: "smtp",
  587: "submission",
  465: "smtps",
  24: "lmtp",
  110: "pop3",
  995: "pop3s",
};

const DEFAULT_PORT: Readonly<Record<ProbeProtocol, number>> = {
  smtp: 25,
  submission: 587,
  smtps: 465,
  lmtp: 24,
  pop3: 110,
  pop3s: 995,
};

/** What the first bytes of a greeting say: `smtp` (a reply code), `pop3` (`+OK`/`-ERR`), or nothing known. */
export function greetingKind(first: Uint8Array): "smtp" | "pop3" | undefined {
  const head = new TextDecoder().decode(first.subarray(0, 4));
  if (head.startsWith("+OK") || head.startsWith("-ERR")) return "pop3";
  if (/^[2-5]\d\d([ \r-]|$)/.test(head)) return "smtp";
  return undefined;
}

/** Read the first chunk a connection sends, waiting at most `ms`. */
async function firstBytes(
  conn: Conn,
  ms: number,
): Promise<Uint8Array | undefined> {
  const reader = conn.readable.getReader();
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    const result = await Promise.race([
      reader.read(),
      new Promise<undefined>((resolve) =>
        timer = setTimeout(() => resolve(undefined), ms)
      ),
    ]);
    return result && !result.done ? result.value : undefined;
  } catch {
    return undefined;
  } finally {
    clearTimeout(timer);
    await conn.close();
  }
}

/**
 * Tell the protocol of an unknown port from its greeting: in clear text (a
 * reply code or `+OK`) and over implicit TLS (certificate not checked:
 * only to read the greeting; nothing is sent), tried at once on two
 * connections; the first greeting recognised wins.
 */
async function sniff(c: Connection): Promise<ProbeProtocol> {
  const wait = Math.min(c.timeout, 5000);
  const target = {
    hostname: c.hostname,
    port: c.port!,
    servername: c.servername,
  };
  const attempt = async (
    implicit: boolean,
  ): Promise<ProbeProtocol | undefined> => {
    let conn: Conn;
    try {
      conn = await nodeConnector(
        implicit
          ? {
            ...target,
            tls: "implicit",
            caCerts: c.caCerts,
            allowInvalidCertificates: true,
          }
          : { ...target, tls: "none" },
        AbortSignal.timeout(c.connectTimeout),
      );
    } catch (err) {
      if (!implicit) throw err; // nothing listens: a connect error
      return undefined;
    }
    const kind = greetingKind(
      (await firstBytes(conn, wait)) ?? new Uint8Array(),
    );
    if (kind === undefined) return undefined;
    return implicit ? (kind === "smtp" ? "smtps" : "pop3s") : kind;
  };
  const plain = attempt(false);
  const tls = attempt(true);
  plain.catch(() => {}); // reported through the race below, if it matters
  const first = await Promise.race([
    plain.then((k) => k ?? tls),
    tls.then((k) => k ?? plain),
  ]);
  const found = first ?? (await plain) ?? (await tls);
  if (found) return found;
  throw new UsageError(
    `${c.hostname}:${c.port} sent no smtp or pop3 greeting within ${wait} ms, in clear text or over tls; pass --protocol`,
  );
}

/** A TLS failure of the certificate (as opposed to the handshake itself). */
function certificateFailure(err: unknown): err is TlsError {
  return err instanceof TlsError &&
    (err.reason === "untrusted" || err.reason === "name-mismatch" ||
      err.reason === "expired");
}

function tlsOf(
  info: TlsInfo | undefined,
  mode: ProbeTls["mode"],
  name: string,
  failure?: TlsError,
): ProbeTls {
  return {
    mode,
    protocol: info?.protocol,
    cipher: info?.cipher,
    verified: failure === undefined && info?.verified !== false,
    name,
    reason: failure?.reason,
    error: failure ? (info?.verificationError ?? failure.message) : undefined,
    chain: [...(info?.peerCertificates ?? [])],
  };
}

function smtpStage(features: ReadonlyMap<string, string>): ProbeStage {
  return {
    capabilities: [...features].map(([k, v]) => (v ? `${k} ${v}` : k)),
    auth: (features.get("AUTH") ?? "").split(/\s+/).filter(Boolean).map((m) =>
      m.toUpperCase()
    ),
  };
}

function smtpExtensions(
  f: ReadonlyMap<string, string>,
): Record<string, string | boolean> {
  const size = f.get("SIZE");
  return {
    SIZE: f.has("SIZE") ? (size ? size : "no limit given") : false,
    PIPELINING: f.has("PIPELINING"),
    CHUNKING: f.has("CHUNKING"),
    SMTPUTF8: f.has("SMTPUTF8"),
    DSN: f.has("DSN"),
    "8BITMIME": f.has("8BITMIME"),
    ENHANCEDSTATUSCODES: f.has("ENHANCEDSTATUSCODES"),
    REQUIRETLS: f.has("REQUIRETLS"),
  };
}

/** SMTP, submission, SMTPS and LMTP. */
async function probeSmtp(
  r: ProbeResult,
  c: Connection,
  tlsFlag: string | undefined,
  localName?: string,
): Promise<void> {
  const base: SmtpClientOptions = {
    hostname: c.hostname,
    port: r.port,
    connector: nodeConnector,
    caCerts: c.caCerts,
    servername: c.servername,
    timeout: c.timeout,
    connectTimeout: c.connectTimeout,
    logger: c.logger,
    localName,
  };
  const name = c.servername ?? c.hostname;
  const make = (o: SmtpClientOptions) =>
    r.protocol === "lmtp" ? new LmtpClient(o) : new SmtpClient(o);
  if (r.protocol === "smtps") {
    let client = make({ ...base, tls: "implicit" });
    let failure: TlsError | undefined;
    try {
      await client.connect();
    } catch (err) {
      if (!certificateFailure(err)) throw err;
      failure = err;
      client = make({
        ...base,
        tls: "implicit",
        allowInvalidCertificates: true,
      });
      await client.connect();
    }
    r.greetingCode = client.welcome?.code;
    r.greeting = [...(client.welcome?.lines ?? [])];
    r.tls = tlsOf(client.tlsInfo, "implicit", name, failure);
    r.after = smtpStage(client.features);
    r.extensions = smtpExtensions(client.features);
    await client.quit();
    return;
  }
  let client = make({ ...base, tls: "none" });
  try {
    await client.connect();
  } catch (err) {
    if (
      !(err instanceof SmtpHeloError) || r.detectedBy === "flag" ||
      r.protocol === "lmtp"
    ) throw err;
    // EHLO and HELO refused: an LMTP server answers LHLO only.
    r.protocol = "lmtp";
    client = make({ ...base, tls: "none" });
    await client.connect();
  }
  r.greetingCode = client.welcome?.code;
  r.greeting = [...(client.welcome?.lines ?? [])];
  r.before = smtpStage(client.features);
  r.starttlsOffered = client.hasExtension("STARTTLS");
  let last = client.features;
  if (r.starttlsOffered && tlsFlag !== "none") {
    try {
      await client.startTls();
      r.tls = tlsOf(client.tlsInfo, "starttls", name);
      r.after = smtpStage(client.features);
      last = client.features;
    } catch (err) {
      if (!certificateFailure(err)) {
        if (err instanceof TlsError || err instanceof ProtocolError) {
          r.tlsFailure = err.message;
          r.extensions = smtpExtensions(last);
          return;
        }
        throw err;
      }
      // See the certificate anyway (nothing but EHLO is ever sent).
      const again = make({
        ...base,
        tls: "starttls",
        allowInvalidCertificates: true,
      });
      await again.connect();
      r.tls = tlsOf(again.tlsInfo, "starttls", name, err);
      r.after = smtpStage(again.features);
      last = again.features;
      await again.quit();
      r.extensions = smtpExtensions(last);
      return;
    }
  }
  r.extensions = smtpExtensions(last);
  await client.quit();
}

function popStage(capa: ReadonlyMap<string, readonly string[]>): ProbeStage {
  return {
    capabilities: [...capa].map(([k, v]) => [k, ...v].join(" ")),
    auth: [...(capa.get("SASL") ?? [])].map((m) => m.toUpperCase()),
    user: capa.has("USER"),
  };
}

/** POP3 and POP3S. */
async function probePop3(
  r: ProbeResult,
  c: Connection,
  tlsFlag: string | undefined,
): Promise<void> {
  const base: Pop3ClientOptions = {
    hostname: c.hostname,
    port: r.port,
    connector: nodeConnector,
    caCerts: c.caCerts,
    servername: c.servername,
    timeout: c.timeout,
    connectTimeout: c.connectTimeout,
    logger: c.logger,
  };
  const name = c.servername ?? c.hostname;
  if (r.protocol === "pop3s") {
    let client = new Pop3Client({ ...base, tls: "implicit" });
    let failure: TlsError | undefined;
    try {
      await client.connect();
    } catch (err) {
      if (!certificateFailure(err)) throw err;
      failure = err;
      client = new Pop3Client({
        ...base,
        tls: "implicit",
        allowInvalidCertificates: true,
      });
      await client.connect();
    }
    r.greeting = [client.welcome ?? ""];
    r.tls = tlsOf(client.tlsInfo, "implicit", name, failure);
    r.after = popStage(await client.capa());
    await client.quit();
    return;
  }
  const client = new Pop3Client({ ...base, tls: "none" });
  await client.connect();
  r.greeting = [client.welcome ?? ""];
  const before = await client.capa();
  r.before = popStage(before);
  r.starttlsOffered = before.has("STLS");
  if (r.starttlsOffered && tlsFlag !== "none") {
    try {
      await client.stls();
      r.tls = tlsOf(client.tlsInfo, "starttls", name);
      r.after = popStage(await client.capa());
    } catch (err) {
      if (!certificateFailure(err)) {
        if (err instanceof TlsError || err instanceof ProtocolError) {
          r.tlsFailure = err.message;
          return;
        }
        throw err;
      }
      const again = new Pop3Client({
        ...base,
        tls: "starttls",
        allowInvalidCertificates: true,
      });
      await again.connect();
      r.tls = tlsOf(again.tlsInfo, "starttls", name, err);
      r.after = popStage(await again.capa());
      await again.quit();
      return;
    }
  }
  await client.quit();
}

/** Probe a server; the result carries its verdict. */
export async function probeServer(
  c: Connection,
  protocolFlag: ProbeProtocol | undefined,
  tlsFlag: string | undefined,
  localName?: string,
): Promise<ProbeResult> {
  let protocol = protocolFlag;
  let detectedBy: ProbeResult["detectedBy"] = "flag";
  let port = c.port;
  if (!protocol && port !== undefined && PORTS[port]) {
    protocol = PORTS[port];
    detectedBy = "port";
  }
  if (port === undefined) {
    if (!protocol) {
      throw new UsageError(
        'probe needs host:port or --protocol; run "mailwire probe --help"',
      );
    }
    port = DEFAULT_PORT[protocol];
  }
  if (!protocol) {
    protocol = await sniff({ ...c, port });
    detectedBy = "greeting";
  }
  if (tlsFlag === "implicit") {
    if (protocol === "pop3") protocol = "pop3s";
    else if (protocol === "smtp" || protocol === "submission") {
      protocol = "smtps";
    }
  }
  const r: ProbeResult = {
    host: c.hostname,
    port,
    protocol,
    detectedBy,
    greeting: [],
  };
  if (protocol === "pop3" || protocol === "pop3s") {
    await probePop3(r, c, tlsFlag);
  } else await probeSmtp(r, c, tlsFlag, localName);
  // An SMTP port that offers AUTH is a submission port.
  if (
    r.protocol === "smtp" && r.detectedBy === "greeting" &&
    (r.after ?? r.before)?.auth.length
  ) {
    r.protocol = "submission";
  }
  r.verdict = verdict(r);
  return r;
}

/** Run `mailwire probe`. */
export async function probe(args: string[], ctx: Context): Promise<ExitCode> {
  const { values, positionals } = parseCommand("probe", args, SPEC);
  if (flag(values, "help")) {
    ctx.out.write(PROBE_HELP);
    return EXIT.ok;
  }
  if (positionals.length > 1) {
    throw new UsageError(
      `probe takes one host[:port]; run "mailwire probe --help"`,
    );
  }
  const server = positionals[0] ?? str(values, "server");
  if (server === undefined) {
    throw new UsageError(
      'probe needs host[:port]; run "mailwire probe --help"',
    );
  }
  const protocolFlag = str(values, "protocol");
  const protocol = protocolFlag === undefined
    ? undefined
    : parseChoice(protocolFlag, "--protocol", PROTOCOLS);
  const conn = await connection("probe", values, ctx, server);
  const result = await probeServer(
    conn,
    protocol,
    conn.tls,
    str(values, "local-name"),
  );
  ctx.out.write(
    flag(values, "json")
      ? JSON.stringify(result, null, 2) + "\n"
      : renderProbe(result),
  );
  if (result.verdict?.level !== "fail") return EXIT.ok;
  return EXIT.tls;
}
