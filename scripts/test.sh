#!/usr/bin/env bash
# The whole test suite: installs what it needs, builds, lints (format, types, line length), then runs every
# test with node's test runner (its summary is what CI reads).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-deps.sh
npm run --silent build
bash scripts/lint.sh
mapfile -t files < <(find test -name '*.test.ts' | sort)
exec node --import tsx --test --test-reporter=spec "${files[@]}"
