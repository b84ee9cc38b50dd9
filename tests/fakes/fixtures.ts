// Test-only: the one reader of tests/fixtures/ (certificates and keys).

import { readFileSync } from "node:fs";
import { repoFile } from "../repo.ts";

/** A file of `tests/fixtures/` (`ca.pem`, `localhost.pem`, ...), as text. */
export function fixture(name: string): string {
  return readFileSync(repoFile(`tests/fixtures/${name}`), "utf8");
}
