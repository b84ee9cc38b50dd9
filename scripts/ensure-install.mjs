// Installs the dev toolchain (deno, bun, typescript...) with `npm ci` when it
// is missing, so `npm test` and `npm run demo` work on a fresh clone.
import { execSync } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const needed = ["deno", "bun", "tsc", "workerd", "jsr"].map((b) =>
  join(root, "node_modules", ".bin", b)
);
if (!needed.every((p) => existsSync(p))) {
  console.error("installing dev dependencies (npm ci)...");
  execSync("npm ci --no-audit --no-fund", { cwd: root, stdio: "inherit" });
}
