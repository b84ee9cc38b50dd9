// Test-only: a worker that runs the shared connector cases (and cloudflare_cases.ts) against cloudflareConnector in workerd; the server halves run in the host (run.ts), reached over HTTP at env.CONTROL.

import { connect } from "cloudflare:sockets";
import { cloudflareConnector } from "../../tls/cloudflare.ts";
import { connectorCases, withTimeout } from "../../tls/_test_cases.ts";
import { cloudflareCases, cloudflareOptions } from "./cloudflare_cases.ts";

interface Env {
  /** The host's control server, e.g. http://127.0.0.1:12345 */
  CONTROL: string;
  /** "test-ca": the outbound network trusts the test CA; "default": it does not. */
  TRUST: "test-ca" | "default";
}

async function call(
  env: Env,
  path: string,
  body: unknown,
): Promise<Record<string, unknown>> {
  const response = await fetch(`${env.CONTROL}${path}`, {
    method: "POST",
    body: JSON.stringify(body),
  });
  const json = await response.json() as Record<string, unknown>;
  if (!response.ok) throw new Error(`control ${path}: ${json.error}`);
  return json;
}

export default {
  async test(_controller: unknown, env: Env): Promise<void> {
    const connector = cloudflareConnector(connect);
    const all = env.TRUST === "default"
      ? connectorCases.filter((c) => c.trust === "default")
      : [
        ...connectorCases.filter((c) => c.trust !== "default"),
        ...cloudflareCases,
      ];
    const failed: string[] = [];
    for (const case_ of all) {
      const quirk = cloudflareOptions.quirks?.[case_.name];
      if (quirk) {
        console.log(`mailwire-case SKIP ${case_.name} -- ${quirk}`);
        continue;
      }
      const served = await call(env, "/serve", { name: case_.name });
      const id = served.id as number;
      const start = Date.now();
      try {
        await withTimeout(
          case_.name,
          case_.run({
            connector,
            options: cloudflareOptions,
            port: served.port as number,
            path: served.path as string | undefined,
            info: (served.info ?? {}) as Record<string, unknown>,
            ca: undefined,
            observe: async (name) =>
              (await call(env, "/observe", { id, name })).value,
          }),
        );
        console.log(
          `mailwire-case PASS ${case_.name} (${Date.now() - start} ms)`,
        );
      } catch (error) {
        failed.push(case_.name);
        console.log(
          `mailwire-case FAIL ${case_.name} -- ${
            error instanceof Error ? `${error.name}: ${error.message}` : error
          }`,
        );
      } finally {
        await call(env, "/close", { id });
      }
    }
    if (failed.length > 0) {
      throw new Error(`${failed.length} case(s) failed: ${failed.join("; ")}`);
    }
  },
};
