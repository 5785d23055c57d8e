#!/usr/bin/env bash
# Runs `refit demo`: installs what it needs (npm packages, PyTorch), builds, then trains and predicts.
set -euo pipefail
cd "$(dirname "$0")/.."
REFIT_NEED_BROWSER=0 bash scripts/ensure-deps.sh
npm run --silent build
exec node bin/refit.mjs demo "$@"
