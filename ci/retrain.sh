#!/usr/bin/env bash
# The steps of the retraining workflow, one sub-command each: `ci/retrain.sh STEP`.
# .github/workflows/retrain.yml runs them on GitHub; ci/local-workflow runs the same
# sub-commands, in the workflow's order, in a temporary clone. Every step decides for itself
# whether it applies (no remote: no pull or push; not main: no promotion), so both callers
# run the same commands. Run from the repository root.
#
# Inputs (environment; secrets come from the CI's secret store, never from the repository):
#   SEED                the train job's seed (one of gate.seeds); unset: params.yaml's train.seed
#   BASE_REF            revision to compare with (origin/main on a pull request); HEAD~1
#   CI_OUT              folder for the report, the gate's decision and the artifacts; ci-out
#   IS_MAIN             "true" for a run on the main branch: dvc push, champion promotion
#   PR_NUMBER           pull request to comment on (with gh and GH_TOKEN); empty: no comment
#   REGISTERED_MODEL    registry model name; empty: params.yaml's mlflow.registered_model
#   MLFLOW_TRACKING_URI an MLflow server; unset: runs go to ./mlflow.db, no link, no promotion
#   GANTRACK_BIN        folder holding python and dvc; .venv/bin (what `make` installs)
#   AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, GCS_CREDENTIALS   the DVC remote's credentials
set -euo pipefail

STEPS="test seeds install remote pull repro seed push base gate report comment promote verdict"
BIN="${GANTRACK_BIN:-.venv/bin}"
BIN_PATH="$(cd "$BIN" 2>/dev/null && pwd || echo "$BIN")"
export PATH="$BIN_PATH:$PATH"
CI_OUT="${CI_OUT:-ci-out}"
BASE_REF="${BASE_REF:-HEAD~1}"
mkdir -p "$CI_OUT"

# `key=value` for later workflow steps (`steps.<id>.outputs.key`), and a file for local runs.
output() {
  echo "$1=$2" >>"$CI_OUT/outputs.env"
  if [[ -n "${GITHUB_OUTPUT:-}" ]]; then echo "$1=$2" >>"$GITHUB_OUTPUT"; fi
}

param() {  # a params.yaml value through the typed config: `param paths.metrics`
  python -c "import sys; from gantrack.config import load_params, flatten_params; \
print(flatten_params(load_params())[sys.argv[1]])" "$1"
}

diff_or() {  # `diff_or "what no rows mean" COMMAND...`: a dvc diff, never an empty table
  local text
  text="$("${@:2}" 2>&1)" || text="($2 $3 $4 failed: $text)"
  # `--md` prints the header and its rule even when nothing differs.
  if [[ "$(grep -c '^|' <<<"$text")" -le 2 && "$text" != "("* ]]; then text="$1"; fi
  echo "$text"
}

install_locked_extra() {  # an extra of pyproject.toml, at uv.lock's versions, into BIN's venv
  UV_PROJECT_ENVIRONMENT="$(dirname "$BIN_PATH")" uv sync --locked --inexact --extra "$1" --quiet
}

has_remote() { [[ -n "$(dvc remote list)" ]]; }
is_server() { [[ "${MLFLOW_TRACKING_URI:-}" == http://* || "${MLFLOW_TRACKING_URI:-}" == https://* ]]; }

step_test() {
  make test
}

step_seeds() {
  # gate.seeds as a JSON list: the train job's matrix. The run of params.yaml's own
  # train.seed is the committed run (it registers the model; on main its outputs are pushed).
  local seeds main
  seeds="$(param gate.seeds | tr -d ' ')"
  main="$(param train.seed)"
  echo "the candidate's seeds: $seeds; the committed run's seed: $main"
  if [[ ",${seeds:1:-1}," != *",$main,"* ]]; then
    echo "warning: train.seed $main is not among gate.seeds: no train job makes the committed run" >&2
  fi
  output seeds "$seeds"
}

step_install() {
  # The train and gate jobs install from the lock without running the tests again.
  make .venv/.installed
}

step_remote() {
  # The pipeline works without a remote: everything below is then skipped or rebuilt.
  if ! has_remote; then
    echo "no DVC remote configured: every stage runs here, nothing is pulled or pushed"
    output configured false
    return
  fi
  output configured true
  if [[ -n "${GCS_CREDENTIALS:-}" ]]; then
    # A service-account key from the secret store, to a private file outside the artifacts.
    local key
    key="$(mktemp "${RUNNER_TEMP:-/tmp}/gcs.XXXXXX.json")"
    printf '%s' "$GCS_CREDENTIALS" >"$key"
    if [[ -n "${GITHUB_ENV:-}" ]]; then echo "GOOGLE_APPLICATION_CREDENTIALS=$key" >>"$GITHUB_ENV"; fi
  fi
  local url
  url="$(dvc remote list | awk 'NR == 1 {print $2}')"
  case "$url" in  # the storage plugin of the remote's scheme (pyproject.toml's extras)
    s3://*) install_locked_extra s3 ;;
    gs://*) install_locked_extra gs ;;
  esac
  echo "DVC remote: $(dvc remote list | awk '{print $1}' | paste -sd ' ')"
}

step_pull() {
  if ! has_remote; then echo "no DVC remote: nothing to pull"; return; fi
  # Inputs and the run cache: stages whose deps and params match a pushed run are restored.
  dvc pull --run-cache --allow-missing
}

this_seed() { echo "${SEED:-$(param train.seed)}"; }
is_committed_run() { [[ "$(this_seed)" == "$(param train.seed)" ]]; }

step_repro() {
  # --pull: a stage whose deps and params match a pushed run is downloaded, not recomputed.
  local pull=()
  if has_remote; then pull=(--pull); fi
  if is_committed_run; then
    dvc repro "${pull[@]}"
  else
    # Another of the gate's seeds: the same recipe reseeded, registering no model version.
    dvc exp run "${pull[@]}" -S "train.seed=$(this_seed)" -S mlflow.registered_model=null
  fi
}

step_seed() {
  # This job's run as a one-seed set: what the gate job judges, with the other seeds'.
  local seed
  seed="$(this_seed)"
  mkdir -p "$CI_OUT/seeds"
  python -m gantrack gate --export-seed "$CI_OUT/seeds/seed-$seed.json"
  if is_committed_run; then output committed true; else output committed false; fi
}

step_base() {
  # The base's recorded seeds as committed at BASE_REF (a change cannot weaken its own base).
  local base
  base="$(param paths.gate_base)"
  if git show "$BASE_REF:$base" >"$CI_OUT/base.json" 2>/dev/null; then
    echo "base seeds: $BASE_REF:$base"
  else
    rm -f "$CI_OUT/base.json"
    echo "no $base at $BASE_REF: the gate uses this checkout's $base"
  fi
}

step_gate() {
  local base=(--base-label "the recorded seeds at \`$BASE_REF\`")
  if [[ -f "$CI_OUT/base.json" ]]; then base+=(--base "$CI_OUT/base.json"); fi
  shopt -s nullglob
  local candidates=("$CI_OUT"/seeds/seed-*.json)
  shopt -u nullglob
  local code=0
  # --expect-seeds: a seed whose train job failed left no result, and fails the candidate.
  python -m gantrack gate "${base[@]}" --candidate "${candidates[@]}" --expect-seeds \
    --report "$CI_OUT/gate.md" --decision "$CI_OUT/gate.json" || code=$?
  # The job fails in `verdict`, after the report is posted and the outputs uploaded.
  echo "$code" >"$CI_OUT/gate.exit"
  case "$code" in
    0) output verdict pass ;;
    1) output verdict regression ;;
    3) output verdict bad-input ;;
    *) output verdict error ;;
  esac
}

step_report() {
  local report="$CI_OUT/report.md" commit
  commit="$(git rev-parse --short HEAD)"
  cp "$(param paths.sample_grid)" "$(param paths.train_grid)" "$CI_OUT/" 2>/dev/null || true
  # The offline plots template (.dvc/config points dvc at it) is built by the set-up.
  make --no-print-directory plots-template >&2 || true
  dvc plots diff "$BASE_REF" --out "$CI_OUT/plots" >/dev/null 2>&1 \
    || echo "dvc plots diff found no plots to draw" >&2
  {
    echo "## Retraining report for \`$commit\` against \`$BASE_REF\`"
    echo
    if [[ -f "$CI_OUT/gate.md" ]]; then cat "$CI_OUT/gate.md"; else echo "(the gate did not run)"; fi
    echo
    echo "### Params changed"
    echo
    diff_or "no params changed" dvc params diff "$BASE_REF" --md
    echo
    echo "### Metrics"
    echo
    diff_or "no metrics changed" dvc metrics diff "$BASE_REF" --md --precision 4
    echo
    echo "### Samples and curves"
    echo
    echo "The sample grid (\`$(basename "$(param paths.sample_grid)")\`), the training grid and"
    echo "the curves against the base (\`plots/index.html\`) are in the run's artifacts."
    if [[ -n "${GITHUB_RUN_ID:-}" ]]; then
      echo "Artifacts: ${GITHUB_SERVER_URL:-https://github.com}/${GITHUB_REPOSITORY}/actions/runs/${GITHUB_RUN_ID}"
    fi
    if is_server; then
      local link
      link="$(python -m gantrack run-url --commit "$(git rev-parse HEAD)" 2>/dev/null || true)"
      if [[ -n "$link" ]]; then echo; echo "MLflow run: $link"; fi
    fi
  } >"$report"
  echo "report written to $report"
}

step_comment() {
  if [[ -n "${GITHUB_STEP_SUMMARY:-}" ]]; then cat "$CI_OUT/report.md" >>"$GITHUB_STEP_SUMMARY"; fi
  if [[ -z "${PR_NUMBER:-}" ]]; then echo "not a pull request: no comment"; return; fi
  gh pr comment "$PR_NUMBER" --body-file "$CI_OUT/report.md"
}

step_push() {
  if [[ "${IS_MAIN:-false}" != true ]]; then echo "not main: nothing pushed"; return; fi
  if ! has_remote; then echo "no DVC remote: nothing to push"; return; fi
  if ! is_committed_run; then echo "seed $(this_seed) is not the committed run: nothing pushed"; return; fi
  # dvc push --run-cache, and the git-kept reports of each stage run that it leaves out.
  python -m gantrack push
}

step_promote() {
  if [[ "${IS_MAIN:-false}" != true ]]; then echo "not main: no promotion"; return; fi
  if ! is_server; then echo "no MLflow tracking server: no registry to promote in"; return; fi
  # The version the gate judged: the committed run's (the decision names it; promote checks
  # that the decision is the one the gate recorded on that very version).
  local version
  version="$(python -c 'import json, sys; model = json.load(open(sys.argv[1]))["model"]; print(model["version"] if model else "")' "$CI_OUT/gate.json")"
  if [[ -z "$version" ]]; then echo "the gate's decision names no model version: nothing to promote"; return 1; fi
  # Exit 1 means "gate did not pass, champion left where it was": the verdict step fails the job.
  local code=0
  python -m gantrack promote --decision "$CI_OUT/gate.json" --version "$version" \
    --commit "$(git rev-parse HEAD)" ${REGISTERED_MODEL:+--model "$REGISTERED_MODEL"} || code=$?
  [[ "$code" -le 1 ]]
}

step_verdict() {
  local code
  code="$(cat "$CI_OUT/gate.exit" 2>/dev/null || echo 3)"
  echo "gate exit status: $code"
  exit "$code"
}

if [[ $# -ne 1 || " $STEPS " != *" $1 "* ]]; then
  echo "usage: ci/retrain.sh STEP   (steps, in order: $STEPS)" >&2
  exit 2
fi
"step_$1"
