// The hostile catalogue over SMTP (TCP): the shared transport cases, SMTP's own, TLS and AUTH, and hostile options.
import { registerScenarios } from "../fakes/hostile_kit.ts";
import { catalogue } from "./catalogue.ts";

registerScenarios("smtp", catalogue.smtp);
