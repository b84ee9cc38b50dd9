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
import { flag, type OptionSpec, parseChoice, str } from "./args.ts";
import {
  begin,
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

/** What probe needs of a client, SMTP or POP3 alike. */
interface Probed {
  connect(): Promise<unknown>;
  /** STARTTLS or STLS, then the capabilities again. */
  upgrade(): Promise<unknown>;
  /** The capabilities now (EHLO/LHLO features, or CAPA). */
  stage(): Promise<ProbeStage>;
  readonly tlsInfo: TlsInfo | undefined;
  /** The greeting: code (SMTP) and text lines. */
  greeting(): { code?: number; lines: string[] };
  /** SMTP: SIZE, PIPELINING... from the last capabilities. */
  extensions?(): Record<string, string | boolean>;
  quit(): Promise<unknown>;
}

/** Makes a client for a TLS mode, with certificate checks on or off. */
type ProbeFactory = (
  tls: "none" | "implicit" | "starttls",
  insecure: boolean,
) => Probed;

/**
 * Connect verified; when the certificate does not verify, connect again
 * without checking it, only to show it (nothing but EHLO/CAPA is sent).
 */
async function connectShowing(
  make: ProbeFactory,
  tls: "implicit" | "starttls",
): Promise<{ client: Probed; failure?: TlsError }> {
  const client = make(tls, false);
  try {
    await client.connect();
    return { client };
  } catch (err) {
    if (!certificateFailure(err)) throw err;
    const again = make(tls, true);
    await again.connect();
    return { client: again, failure: err };
  }
}

/** The probe itself, over clients from `make`. */
async function probeWith(
  r: ProbeResult,
  make: ProbeFactory,
  name: string,
  tlsFlag: string | undefined,
  first?: Probed,
): Promise<void> {
  if (r.protocol === "smtps" || r.protocol === "pop3s") {
    const { client, failure } = await connectShowing(make, "implicit");
    const g = client.greeting();
    [r.greetingCode, r.greeting] = [g.code, g.lines];
    r.tls = tlsOf(client.tlsInfo, "implicit", name, failure);
    r.after = await client.stage();
    r.extensions = client.extensions?.();
    await client.quit();
    return;
  }
  const client = first ?? make("none", false);
  if (!first) await client.connect();
  const g = client.greeting();
  [r.greetingCode, r.greeting] = [g.code, g.lines];
  r.before = await client.stage();
  r.starttlsOffered = r.before.capabilities.some((c) =>
    /^(STARTTLS|STLS)$/i.test(c)
  );
  r.extensions = client.extensions?.();
  if (r.starttlsOffered && tlsFlag !== "none") {
    try {
      await client.upgrade();
      r.tls = tlsOf(client.tlsInfo, "starttls", name);
      r.after = await client.stage();
      r.extensions = client.extensions?.();
    } catch (err) {
      if (!certificateFailure(err)) {
        if (!(err instanceof TlsError || err instanceof ProtocolError)) {
          throw err;
        }
        r.tlsFailure = err.message;
        return;
      }
      const { client: again } = await connectShowing(
        () => make("starttls", true),
        "starttls",
      );
      r.tls = tlsOf(again.tlsInfo, "starttls", name, err);
      r.after = await again.stage();
      r.extensions = again.extensions?.();
      await again.quit();
      await client.quit().catch(() => {});
      return;
    }
  }
  await client.quit();
}

/** The client options every probe connection shares. */
function baseOptions(c: Connection, port: number) {
  return {
    hostname: c.hostname,
    port,
    connector: nodeConnector,
    caCerts: c.caCerts,
    servername: c.servername,
    timeout: c.timeout,
    connectTimeout: c.connectTimeout,
    logger: c.logger,
    signal: c.signal,
  };
}

/** SMTP, submission, SMTPS and LMTP. */
async function probeSmtp(
  r: ProbeResult,
  c: Connection,
  tlsFlag: string | undefined,
  localName?: string,
): Promise<void> {
  const base: SmtpClientOptions = { ...baseOptions(c, r.port), localName };
  const make: ProbeFactory = (tls, insecure) => {
    const o: SmtpClientOptions = {
      ...base,
      tls,
      allowInvalidCertificates: insecure || undefined,
    };
    const client = r.protocol === "lmtp"
      ? new LmtpClient(o)
      : new SmtpClient(o);
    return {
      connect: () => client.connect(),
      upgrade: () => client.startTls(),
      stage: () => Promise.resolve(smtpStage(client.features)),
      get tlsInfo() {
        return client.tlsInfo;
      },
      greeting: () => ({
        code: client.welcome?.code,
        lines: [...(client.welcome?.lines ?? [])],
      }),
      extensions: () => smtpExtensions(client.features),
      quit: () => client.quit(),
    };
  };
  let first: Probed | undefined;
  if (r.protocol !== "smtps") {
    first = make("none", false);
    try {
      await first.connect();
    } catch (err) {
      if (
        !(err instanceof SmtpHeloError) || r.detectedBy === "flag" ||
        r.protocol === "lmtp"
      ) throw err;
      // EHLO and HELO refused: an LMTP server answers LHLO only.
      r.protocol = "lmtp";
      first = make("none", false);
      await first.connect();
    }
  }
  await probeWith(r, make, c.servername ?? c.hostname, tlsFlag, first);
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
  const make: ProbeFactory = (tls, insecure) => {
    const client = new Pop3Client(
      {
        ...baseOptions(c, r.port),
        tls,
        allowInvalidCertificates: insecure || undefined,
      } satisfies Pop3ClientOptions,
    );
    return {
      connect: () => client.connect(),
      upgrade: () => client.stls(),
      stage: async () => popStage(await client.capa()),
      get tlsInfo() {
        return client.tlsInfo;
      },
      greeting: () => ({ lines: [client.welcome ?? ""] }),
      quit: () => client.quit(),
    };
  };
  await probeWith(r, make, c.servername ?? c.hostname, tlsFlag);
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
  const parsed = begin("probe", args, SPEC, PROBE_HELP, ctx, 1);
  if (!parsed) return EXIT.ok;
  const { values, positionals } = parsed;
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
    { ...conn, signal: ctx.io.signal },
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
