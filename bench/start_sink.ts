/**
 * Starts the benchmark's servers (`bench/sink.mjs`) in their own Node
 * process, pinned to the CPU in `BENCH_SINK_CPU` when it is set (with
 * `taskset`), and waits for the ports they print.
 *
 * @module
 */
import { spawn } from "node:child_process";
import net from "node:net";
import process from "node:process";
import { fileURLToPath } from "node:url";

/** The sink's ports: SMTP and POP3, their delayed twins, the control port. */
export interface Ports {
  smtp: number;
  pop3: number;
  smtpDelayed: number;
  pop3Delayed: number;
  control: number;
}

/** The running sink: its ports, and `stop()` to end it. */
export async function startSink(): Promise<{ ports: Ports; stop(): void }> {
  const script = fileURLToPath(new URL("./sink.mjs", import.meta.url));
  const pin = process.env.BENCH_SINK_CPU;
  const child = pin
    ? spawn("taskset", ["-c", pin, "node", script], {
      stdio: ["pipe", "pipe", "inherit"],
    })
    : spawn("node", [script], { stdio: ["pipe", "pipe", "inherit"] });
  const ports = await new Promise<Ports>((resolve, reject) => {
    let out = "";
    const timer = setTimeout(
      () => reject(new Error("sink did not start")),
      60_000,
    );
    child.stdout!.on("data", (c: Uint8Array) => {
      out += new TextDecoder().decode(c);
      const nl = out.indexOf("\n");
      if (nl >= 0) {
        clearTimeout(timer);
        resolve(JSON.parse(out.slice(0, nl)));
      }
    });
  });
  return { ports, stop: () => child.kill("SIGTERM") };
}

/** One JSON line request/response on the sink's control port. */
export function control(
  port: number,
  cmd: string,
): Promise<Record<string, number>> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ port, host: "127.0.0.1" });
    let buf = "";
    s.on("data", (d: Uint8Array) => {
      buf += new TextDecoder().decode(d);
      if (buf.includes("\n")) {
        s.end();
        resolve(JSON.parse(buf));
      }
    });
    s.on("error", reject);
    s.write(cmd + "\n");
  });
}
