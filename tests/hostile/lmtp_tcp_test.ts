// The hostile catalogue over LMTP on a TCP port: the shared transport cases and LMTP's own.
import { registerScenarios } from "../fakes/hostile_kit.ts";
import { catalogue } from "./catalogue.ts";

registerScenarios("lmtp-tcp", catalogue["lmtp-tcp"]);
