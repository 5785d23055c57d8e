#!/usr/bin/env bash
# `npm run lint`: the formatter's check (Prettier, .prettierrc.json), the type check, the import check (no import
# circles, the layers of .dependency-cruiser.cjs), no line in src/ over 120 characters and no file in src/ or
# worker/ over 400 lines (a longer one is two concerns: split it). `npm run format` (this script with --fix) rewrites what Prettier would change.
set -euo pipefail
cd "$(dirname "$0")/.."
# Quoted globs: Prettier expands them itself (bash would read ** as *).
globs=('src/**/*.ts' 'test/**/*.ts' 'bench/**/*.ts' 'bench/*.mjs' 'web/**/*.ts' 'scripts/*.mjs' 'bin/*.mjs')
if [ "${1:-}" = --fix ]; then
  exec npx prettier --write --log-level warn "${globs[@]}"
fi
npx prettier --check --log-level warn "${globs[@]}"
npx tsc --noEmit -p .
npx tsc --noEmit -p web
npx depcruise src --config .dependency-cruiser.cjs --output-type err
long=$(git ls-files 'src/*.ts' | xargs awk 'length > 120 { print FILENAME ":" FNR ": " length " characters" }')
if [ -n "$long" ]; then
  echo "lint: lines over 120 characters in src/ (wrap them; Prettier does not split strings or comments):" >&2
  echo "$long" >&2
  exit 1
fi
big=$(git ls-files 'src/*.ts' 'worker/*.py' | xargs wc -l | awk '$2 != "total" && $1 > 400 { print $2 ": " $1 " lines" }')
if [ -n "$big" ]; then
  echo "lint: files over 400 lines in src/ or worker/ (split them by concern):" >&2
  echo "$big" >&2
  exit 1
fi
