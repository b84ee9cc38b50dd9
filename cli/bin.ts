#!/usr/bin/env node
// The `mailwire` executable of the npm package (`bin`): runs the CLI on this process.
import { runProcess } from "./process_io.ts";

await runProcess();
