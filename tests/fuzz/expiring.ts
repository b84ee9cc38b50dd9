// A Deadline a test can make pass at once, to test deadline checks over data already buffered.
import { Deadline } from "../../io/deadline.ts";

/** A real 60 s Deadline whose time runs out when `expired` is set (no timer involved). */
export class ExpiringDeadline extends Deadline {
  /** Set to make `remaining()` 0 from now on. */
  expired = false;
  constructor() {
    super(60_000);
  }
  override remaining(): number {
    return this.expired ? 0 : super.remaining();
  }
}
