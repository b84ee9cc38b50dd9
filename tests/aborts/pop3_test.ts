// Every abort on POP3 (the table is tests/aborts/pop3_cases.ts).
import { registerScenarios } from "../fakes/hostile_kit.ts";
import { pop3AbortCases } from "./pop3_cases.ts";

registerScenarios("pop3 aborts", pop3AbortCases, "abort");
