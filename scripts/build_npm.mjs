// Builds the package as a Node.js consumer receives it through JSR's npm
// compatibility layer (`npx jsr add @mailwire/mailwire`): ES modules plus
// .d.ts for the library only (deno.json's exports and publish.include), a
// package.json with "exports" and "engines", packed into a tarball.
//
//   node scripts/build_npm.mjs        → .tmp/npm/mailwire-<version>.tgz
//
// Used by tests/node_consumer/run.mjs. Node 20.16+ (process.getBuiltinModule).
import { execFileSync } from "node:child_process";
import {
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const bin = (name) => join(root, "node_modules", ".bin", name);
const deno = JSON.parse(readFileSync(join(root, "deno.json"), "utf8"));
const out = join(root, ".tmp", "npm");
const pkg = join(out, "package");

rmSync(out, { recursive: true, force: true });
mkdirSync(pkg, { recursive: true });

// tls/deno.ts is type-checked against the Deno namespace (as run.sh does).
const types = join(root, ".tmp", "deno-types");
mkdirSync(types, { recursive: true });
const denoTypes = execFileSync(bin("deno"), ["types"], { encoding: "utf8" });
writeFileSync(
  join(types, "deno.d.ts"),
  denoTypes.split("\n").filter((l) => !l.startsWith("/// <reference")).join(
    "\n",
  ),
);

// The entry modules; tsc follows their imports (tests are never imported).
const entries = Object.values(deno.exports).map((p) => p.replace(/^\.\//, ""));
// The executables (package.json "bin"): the CLI's, which runs on import.
const bins = { mailwire: "cli/bin.ts" };
entries.push(...Object.values(bins));
const tsconfig = {
  compilerOptions: {
    target: "ES2022",
    lib: ["ES2022", "ESNext.Disposable", "DOM"],
    module: "nodenext",
    moduleResolution: "nodenext",
    rewriteRelativeImportExtensions: true,
    declaration: true,
    strict: true,
    types: ["node"],
    skipLibCheck: true,
    rootDir: root,
    outDir: pkg,
  },
  files: [join(types, "deno.d.ts"), ...entries.map((e) => join(root, e))],
};
const config = join(out, "tsconfig.json");
writeFileSync(config, JSON.stringify(tsconfig, null, 2));
execFileSync(bin("tsc"), ["-p", config], { stdio: "inherit" });

// Only the library: nothing of tests/, nothing but .js and .d.ts.
const files = [];
const walk = (dir) => {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) walk(path);
    else files.push(path.slice(pkg.length + 1));
  }
};
walk(pkg);
const stray = files.filter((f) =>
  f.startsWith("tests/") || f.includes("_test") || f.startsWith(".tmp/") ||
  !/\.(js|d\.ts)$/.test(f)
);
if (stray.length) throw new Error(`not library files: ${stray.join(", ")}`);

const exportsMap = {};
for (const [key, path] of Object.entries(deno.exports)) {
  const base = path.replace(/^\.\//, "./").replace(/\.ts$/, "");
  exportsMap[key] = { types: `${base}.d.ts`, default: `${base}.js` };
}
writeFileSync(
  join(pkg, "package.json"),
  JSON.stringify(
    {
      // JSR publishes @scope/name to npm as @jsr/scope__name.
      name: `@jsr/${deno.name.slice(1).replace("/", "__")}`,
      version: deno.version,
      description: deno.description,
      license: deno.license,
      type: "module",
      exports: exportsMap,
      bin: Object.fromEntries(
        Object.entries(bins).map(([name, path]) => [
          name,
          `./${path.replace(/\.ts$/, ".js")}`,
        ]),
      ),
      engines: { node: ">=20.16" },
      sideEffects: false,
    },
    null,
    2,
  ) + "\n",
);
for (const name of ["README.md", "LICENSE"]) {
  writeFileSync(join(pkg, name), readFileSync(join(root, name)));
}
const tarball = execFileSync("npm", [
  "pack",
  "--silent",
  "--pack-destination",
  out,
], {
  cwd: pkg,
  encoding: "utf8",
}).trim().split("\n").pop();
console.log(join(out, tarball));
