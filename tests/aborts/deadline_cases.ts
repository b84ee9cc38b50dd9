// The whole-call deadline rule: connect() (greeting, hello, STARTTLS/STLS, hello again, AUTH) is bounded as a whole by connectTimeout.

import assert from "node:assert/strict";
import { TimeoutError } from "../../errors.ts";
import { fixture } from "../fakes/scripted.ts";
import { PASSWORD, type Scenario, sleep, USER } from "../fakes/hostile_kit.ts";
import { slowConnector } from "../fakes/abort_kit.ts";

const CA = [fixture("ca.pem")];
const AUTH = { username: USER, password: PASSWORD };
/** The connect deadline of every case. */
export const CONNECT_TIMEOUT = 1000;
/** How late each step is in the "all five late" case, and the step the deadline fires in. */
const LATE = 550;
/** The steps before the one the deadline must fire in share this much delay. */
const BEFORE = 700;

/** Delays (ms) of connect's steps: [tcp, greeting, hello, starttls, hello again, auth]. */
type Delays = [number, number, number, number, number, number];

/** Each step before `k` late by a share of BEFORE, step `k` LATE: the deadline falls inside step `k`. */
function crossingAt(k: number): Delays {
  const d: Delays = [0, 0, 0, 0, 0, 0];
  const first = k === 1 ? 0 : 1; // the TCP step only delays when it is the only one before
  for (let i = first; i < k; i++) d[i] = BEFORE / (k - first);
  d[k] = LATE;
  return d;
}

const SMTP_STEPS = ["greeting", "ehlo", "starttls", "ehlo", "auth"];
const POP3_STEPS = ["greeting", "capa", "stls", "capa", "auth"];
const SMTP_NAMES = ["greeting", "EHLO", "STARTTLS", "EHLO after TLS", "AUTH"];
const POP3_NAMES = ["greeting", "CAPA", "STLS", "CAPA after TLS", "AUTH"];

/** What every case shares: a STARTTLS + AUTH connect bounded by CONNECT_TIMEOUT, the TCP step `d[0]` late. */
function expectations(d: Delays, phase: string) {
  return {
    client: {
      tls: "starttls" as const,
      caCerts: CA,
      allowInsecureAuth: false,
      auth: AUTH,
      timeout: 60_000,
      connectTimeout: CONNECT_TIMEOUT,
      ...(d[0] ? { connector: slowConnector(d[0]) } : {}),
    },
    act: (c: { connect(): Promise<unknown> }) => c.connect(),
    error: TimeoutError,
    phase,
    check: (err: Error) =>
      assert.equal((err as TimeoutError).timeout, CONNECT_TIMEOUT),
    within: CONNECT_TIMEOUT + 450,
    atLeast: CONNECT_TIMEOUT - 50,
    received: () => {},
    sendsCredentials: true,
  };
}

function smtpCase(name: string, d: Delays, phase: string): Scenario<"smtp"> {
  return {
    name,
    protocol: "smtp",
    covers: "whole-call deadlines",
    server: {
      smtp: {
        greetingDelay: d[1],
        features: ["STARTTLS", "AUTH PLAIN"],
        featuresAfterTls: ["AUTH PLAIN"],
        hook: async (line, ctx) => {
          const verb = line.split(" ")[0];
          if (verb === "EHLO") await sleep(ctx.secure ? d[4] : d[2]);
          else if (verb === "STARTTLS") await sleep(d[3]);
          else if (verb === "AUTH") await sleep(d[5]);
          return undefined;
        },
      },
    },
    ...expectations(d, phase),
  };
}

function pop3Case(name: string, d: Delays, phase: string): Scenario<"pop3"> {
  let capas = 0;
  return {
    name,
    protocol: "pop3",
    covers: "whole-call deadlines",
    server: {
      pop3: {
        greetingDelay: d[1],
        capa: ["STLS", "USER", "SASL PLAIN"],
        users: { [USER]: PASSWORD },
        onCommand: async (line) => {
          const verb = line.split(" ")[0];
          if (verb === "CAPA") await sleep(capas++ === 0 ? d[2] : d[4]);
          else if (verb === "STLS") await sleep(d[3]);
          else if (verb === "AUTH") await sleep(d[5]);
          return undefined;
        },
      },
    },
    ...expectations(d, phase),
  };
}

const ALL_LATE: Delays = [0, LATE, LATE, LATE, LATE, LATE];

export const deadlineCases: Scenario[] = [
  smtpCase(
    `connect: five steps each ${LATE} ms late fail within connectTimeout ${CONNECT_TIMEOUT} ms (in the EHLO)`,
    ALL_LATE,
    "ehlo",
  ),
  ...SMTP_STEPS.map((phase, i) =>
    smtpCase(
      `connect: the whole-call deadline fires in the ${
        SMTP_NAMES[i]
      } (no step over ${BEFORE} ms late)`,
      crossingAt(i + 1),
      phase,
    )
  ),
  pop3Case(
    `connect: five steps each ${LATE} ms late fail within connectTimeout ${CONNECT_TIMEOUT} ms (in the CAPA)`,
    ALL_LATE,
    "capa",
  ),
  ...POP3_STEPS.map((phase, i) =>
    pop3Case(
      `connect: the whole-call deadline fires in the ${
        POP3_NAMES[i]
      } (no step over ${BEFORE} ms late)`,
      crossingAt(i + 1),
      phase,
    )
  ),
];
