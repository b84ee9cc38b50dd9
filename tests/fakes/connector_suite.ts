// Test-only: registers the shared connector cases (tls/_test_cases.ts) as node:test tests, servers in-process.

import { describe, test } from "node:test";
import type { Connector } from "../../tls/conn.ts";
import {
  type CaseOptions,
  connectorCases,
  runInProcess,
} from "../../tls/_test_cases.ts";
import * as kit from "./tls_servers.ts";

/** Runs every shared case against `connector` under `describe(name)`. */
export function connectorSuite(
  name: string,
  connector: Connector,
  options: CaseOptions,
): void {
  describe(name, () => {
    for (const case_ of connectorCases) {
      const skip = options.skip || (options.quirks?.[case_.name] ?? false);
      test(
        case_.name,
        { skip },
        () => runInProcess(case_, connector, options, kit),
      );
    }
  });
}
