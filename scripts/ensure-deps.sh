#!/usr/bin/env bash
# Installs what refit needs on a fresh Debian machine with Node 20: npm packages, PyTorch for the
# worker (Debian's python3-torch) and Chromium for the browser tests. Idempotent; prints what it does.
set -euo pipefail
cd "$(dirname "$0")/.."

need_browser=${REFIT_NEED_BROWSER:-1}

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "refit setup: installing npm packages (npm ci)"
  # onnxruntime-node's postinstall only downloads its CUDA provider (refit predicts on the CPU binaries the
  # package ships); skipped, so that npm ci works where that download cannot be reached.
  ONNXRUNTIME_NODE_INSTALL=skip npm ci --no-audit --no-fund
fi

apt_updated=0
apt_install() {
  if [ "$(id -u)" != 0 ]; then
    echo "refit setup: missing $* — install it with: sudo apt-get install -y $*" >&2
    return 1
  fi
  if [ $apt_updated = 0 ]; then apt-get update -qq; apt_updated=1; fi
  echo "refit setup: apt-get install $*"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

torch_python=""
for py in "${REFIT_PYTHON:-}" python3 /usr/bin/python3; do
  [ -n "$py" ] || continue
  if command -v "$py" >/dev/null 2>&1 && "$py" -c 'import torch, numpy' >/dev/null 2>&1; then torch_python=$py; break; fi
done
if [ -z "$torch_python" ]; then
  apt_install python3-torch python3-numpy || { echo "refit setup: or point REFIT_PYTHON at a python with torch (pip install torch numpy)" >&2; exit 1; }
fi

if [ "$need_browser" = 1 ] && [ ! -x /usr/bin/chromium ]; then
  apt_install chromium || echo "refit setup: browser tests will be skipped without /usr/bin/chromium" >&2
fi
exit 0
