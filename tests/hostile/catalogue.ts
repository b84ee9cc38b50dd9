// The whole hostile catalogue as one list (what tests/hostile/*_test.ts run), for counting.
import type { Scenario } from "../fakes/hostile_kit.ts";
import { lmtpCases } from "./lmtp_cases.ts";
import { optionCases } from "./option_cases.ts";
import { pop3ConnectCases } from "./pop3_connect_cases.ts";
import { pop3SessionCases } from "./pop3_session_cases.ts";
import { smtpCases } from "./smtp_cases.ts";
import { smtpTlsAuthCases } from "./smtp_tls_auth_cases.ts";
import { refusedCase, transportCases } from "./transport_cases.ts";

/** Every scenario, by the test file that runs it. */
export const catalogue: Readonly<Record<string, readonly Scenario[]>> = {
  smtp: [
    ...transportCases("smtp"),
    refusedCase("smtp"),
    ...smtpCases,
    ...smtpTlsAuthCases,
    ...optionCases("smtp"),
  ],
  "lmtp-tcp": [
    ...transportCases("lmtp-tcp"),
    refusedCase("lmtp-tcp"),
    ...lmtpCases("lmtp-tcp"),
  ],
  "lmtp-unix": [...transportCases("lmtp-unix"), ...lmtpCases("lmtp-unix")],
  pop3: [...pop3ConnectCases, ...pop3SessionCases, ...optionCases("pop3")],
};
