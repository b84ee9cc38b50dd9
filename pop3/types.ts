// The shapes of a POP3 pipelined batch: its commands and their answers.

import type { Pop3Status } from "../io/pop3_status.ts";

/**
 * One command of {@linkcode Pop3Client.pipeline}.
 *
 * @example
 * ```ts
 * import type { Pop3PipelineCommand } from "@mailwire/mailwire/pop3";
 * const batch: Pop3PipelineCommand[] = [
 *   { command: "TOP", id: 1, lines: 0 },
 *   { command: "DELE", id: 2 },
 *   { command: "NOOP" },
 * ];
 * console.log(batch.length); // 3
 * ```
 */
export type Pop3PipelineCommand =
  | { command: "RETR"; id: number }
  | { command: "TOP"; id: number; lines: number }
  | { command: "DELE"; id: number }
  | { command: "NOOP" }
  | { command: "RSET" };

/**
 * The answer to one command of {@linkcode Pop3Client.pipeline}.
 *
 * @example
 * ```ts
 * import type { Pop3Client, Pop3PipelineReply } from "@mailwire/mailwire/pop3";
 * async function heads(client: Pop3Client): Promise<Pop3PipelineReply[]> {
 *   const replies = await client.pipeline([{ command: "TOP", id: 1, lines: 0 }]);
 *   for (const { command, status, body } of replies) {
 *     console.log(command.command, status.ok, body?.length);
 *   }
 *   return replies;
 * }
 * console.log(typeof heads); // "function"
 * ```
 */
export interface Pop3PipelineReply {
  /** The command this answers. */
  command: Pop3PipelineCommand;
  /** Its status line (`ok` false for `-ERR`). */
  status: Pop3Status;
  /** The message (RETR) or its beginning (TOP), when `status.ok`. */
  body?: Uint8Array;
}
