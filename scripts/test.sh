#!/usr/bin/env bash
# The whole test suite: installs what it needs, builds, lints (format, types, line length), then runs every
# test with node's test runner (its summary is what CI reads), and prints the wall time last.
# Test files run 2 at a time (REFIT_TEST_CONCURRENCY overrides): node's default is one fewer than the cores, so 1
# here, while most files spend their time waiting on one single-threaded worker or CLI child.
set -euo pipefail
cd "$(dirname "$0")/.."
t0=$SECONDS
bash scripts/ensure-deps.sh
t1=$SECONDS
npm run --silent build
bash scripts/lint.sh
mapfile -t files < <(find test -name '*.test.ts' | sort)
t2=$SECONDS
status=0
node --import tsx --test --test-reporter=spec --test-concurrency="${REFIT_TEST_CONCURRENCY:-2}" "${files[@]}" ||
  status=$?
t3=$SECONDS
mmss() { printf '%dm%02ds' $(($1 / 60)) $(($1 % 60)); }
echo "refit tests: wall time $(mmss $((t3 - t1))) (build and lint $(mmss $((t2 - t1))), tests $(mmss $((t3 - t2))));" \
  "set-up $(mmss $((t1 - t0))) not counted; exit $status"
exit $status
