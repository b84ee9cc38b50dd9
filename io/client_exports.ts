// What every client entry point (./smtp, ./pop3) re-exports: the errors the clients throw and the types their signatures use.

export * from "../errors.ts";
export type { ClientOptions } from "./client_options.ts";
export { consoleLogger, type LogEntry, type Logger } from "./log.ts";
export type {
  CertificateInfo,
  Conn,
  Connector,
  ConnectTarget,
  TlsInfo,
  TlsOptions,
} from "../tls/conn.ts";
export type {
  Credentials,
  MechanismFactory,
  SaslMechanism,
} from "../auth/mechanism.ts";
