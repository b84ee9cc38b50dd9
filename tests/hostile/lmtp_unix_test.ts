// The hostile catalogue over LMTP on a Unix socket: the shared transport cases and LMTP's own.
import { registerScenarios } from "../fakes/hostile_kit.ts";
import { catalogue } from "./catalogue.ts";

registerScenarios("lmtp-unix", catalogue["lmtp-unix"]);
