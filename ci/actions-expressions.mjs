// GitHub Actions expressions and workflows, read by GitHub's own libraries from npm:
// @actions/expressions (the evaluator) and @actions/workflow-parser (the workflow parser,
// which also adds the implicit `success() &&` to a step's `if:`). `make test` installs them
// into ci/node_modules; tests/support/actions_expressions.py calls this script.
//
// Usage: node ci/actions-expressions.mjs < request.json > answer.json
//   {"workflow": "path.yml"}
//     -> {"errors": [...], "env": {NAME: {"literal": v} | {"expression": e}},
//         "steps": [{"id": ..., "name": ..., "if": "success() && (...)"}]}
//   {"evaluate": [{"expression": "...", "contexts": {...}, "status": "success"}, ...]}
//     -> {"values": [...]}   (or {"error": "..."} per item that does not parse)
import { readFileSync } from "node:fs";
import { register } from "node:module";

// The workflow parser imports its JSON schema without an import attribute, which Node 20
// refuses; this hook loads local .json modules as JSON.
register("data:text/javascript," + encodeURIComponent(`
  import { readFile } from "node:fs/promises";
  export async function load(url, context, nextLoad) {
    if (url.startsWith("file:") && url.endsWith(".json")) {
      return { format: "json", source: await readFile(new URL(url), "utf8"), shortCircuit: true };
    }
    return nextLoad(url, context);
  }
`));

const modules = new URL("./node_modules/", import.meta.url);
const { Evaluator, Lexer, Parser, data } = await import(
  new URL("@actions/expressions/dist/index.js", modules)
);
const { convertWorkflowTemplate, parseWorkflow, NoOperationTraceWriter } = await import(
  new URL("@actions/workflow-parser/dist/index.js", modules)
);

// The job-status functions exist only inside a runner: defined here from the job's status.
const STATUS_FUNCTIONS = ["always", "success", "failure", "cancelled"];
const CONTEXTS = [
  "github", "env", "vars", "secrets", "job", "jobs", "steps", "runner", "strategy",
  "matrix", "needs", "inputs",
];

function statusFunctions(status) {
  return new Map(STATUS_FUNCTIONS.map((name) => [name, {
    name, minArgs: 0, maxArgs: 0,
    call: () => new data.BooleanData(name === "always" || name === status),
  }]));
}

function evaluate({ expression, contexts = {}, status = "success" }) {
  let text = expression.trim();
  if (text.startsWith("${{") && text.endsWith("}}")) text = text.slice(3, -2);
  const lexed = new Lexer(text).lex();
  const functions = STATUS_FUNCTIONS.map((name) => ({ name, minArgs: 0, maxArgs: 0 }));
  const names = [...new Set([...CONTEXTS, ...Object.keys(contexts)])];
  const tree = new Parser(lexed.tokens, names, functions).parse();
  // A context the caller leaves out is empty, as on a runner where it holds nothing.
  const full = { ...Object.fromEntries(CONTEXTS.map((name) => [name, {}])), ...contexts };
  const context = JSON.parse(JSON.stringify(full), data.reviver);
  const result = new Evaluator(tree, context, statusFunctions(status)).evaluate();
  return JSON.parse(JSON.stringify(result, data.replacer));
}

async function readWorkflow(path) {
  const content = readFileSync(path, "utf8");
  const parsed = parseWorkflow({ name: path, content }, new NoOperationTraceWriter());
  const errors = parsed.context.errors.getErrors().map((error) => error.message);
  if (errors.length > 0 || !parsed.value) return { errors, env: {}, steps: [] };
  const template = await convertWorkflowTemplate(parsed.context, parsed.value);
  const env = {};
  for (const pair of template.env?.map ?? []) {
    const value = pair.value;
    env[pair.key.value] = value.expr !== undefined
      ? { expression: value.expr }
      : { literal: value.value };
  }
  const steps = template.jobs.flatMap((job) => job.steps.map((step) => ({
    job: job.id.value,
    id: step.id,
    name: step.name?.value ?? null,
    if: step.if?.expression ?? null,
  })));
  return { errors: [...errors, ...(template.errors ?? []).map((e) => e.Message)], env, steps };
}

const request = JSON.parse(readFileSync(0, "utf8"));
let answer;
if (request.workflow) {
  answer = await readWorkflow(request.workflow);
} else {
  answer = {
    values: request.evaluate.map((item) => {
      try {
        return evaluate(item);
      } catch (error) {
        return { error: String(error.message ?? error) };
      }
    }),
  };
}
process.stdout.write(JSON.stringify(answer));
