// The hostile catalogue over POP3: up to login, from login on, and hostile options.
import { registerScenarios } from "../fakes/hostile_kit.ts";
import { catalogue } from "./catalogue.ts";

registerScenarios("pop3", catalogue.pop3);
