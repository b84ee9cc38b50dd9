// The whole-call deadline rule, a case per phase of connect() (tests/aborts/deadline_cases.ts).
import { registerScenarios } from "../fakes/hostile_kit.ts";
import { deadlineCases } from "./deadline_cases.ts";

registerScenarios("whole-call deadlines", deadlineCases, "deadline");
