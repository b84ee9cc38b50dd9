// A test server run as a child process: listen on a loopback port, print it as one JSON line, end with the parent.
import type { Server } from "node:net";
import process from "node:process";

/**
 * Listens on 127.0.0.1 (any free port), prints `{"port":N}` on stdout, and
 * exits when stdin ends (the parent closed it, or is gone).
 */
export function serveForParent(server: Server): void {
  server.listen(0, "127.0.0.1", () => {
    const address = server.address();
    console.log(JSON.stringify({ port: (address as { port: number }).port }));
  });
  process.stdin.on("end", () => process.exit(0));
  process.stdin.on("close", () => process.exit(0));
  process.stdin.resume();
}
