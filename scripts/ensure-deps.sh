#!/usr/bin/env bash
# Installs what refit needs on a fresh Debian machine with Node 20: npm packages, PyTorch for the
# worker (Debian's python3-torch, with Debian's OpenBLAS under it) and Chromium for the browser tests.
# Idempotent; prints what it does.
set -euo pipefail
cd "$(dirname "$0")/.."

need_browser=${REFIT_NEED_BROWSER:-1}

# A node_modules that is a link to an install shared by several checkouts is left alone: npm ci would first empty
# the folder it points to, under every checkout that uses it.
if [ -L node_modules ]; then
  :
elif [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
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
  torch_python=/usr/bin/python3
fi

# Debian's torch links libblas.so.3, which python3-torch's dependencies satisfy with the reference BLAS (libblas3):
# about 10x slower matrix products than OpenBLAS (bench/results/blas.md, where OpenBLAS measured best among Debian's
# BLAS packages). OpenBLAS registers itself as libblas.so.3 with a higher priority, so installing it is enough.
# A torch that is not Debian's (pip's bundles MKL or OpenBLAS) is left as it is.
blas_probe() {
  PYTHONPATH=worker/python${PYTHONPATH:+:$PYTHONPATH} "$torch_python" -c \
    'from refit_worker.device import blas_library as b; l = b(); print(("reference " if l["reference"] else "") + l["name"])'
}
torch_file=$("$torch_python" -c 'import torch; print(torch.__file__)' 2>/dev/null || true)
if [ -n "$torch_file" ] && dpkg -S "$torch_file" 2>/dev/null | grep -q '^python3-torch'; then
  if ! dpkg -s libopenblas0-pthread 2>/dev/null | grep -q '^Status: install ok installed'; then
    apt_install libopenblas0-pthread || echo "refit setup: torch stays on the reference BLAS (about 10x slower on CPU)" >&2
  fi
fi
blas=$(blas_probe 2>/dev/null || echo unknown)
case $blas in
  reference*)
    echo "refit setup: torch ($torch_python) runs on the reference BLAS, about 10x slower on CPU; with" \
      "libopenblas0-pthread installed, point libblas.so.3 at it: update-alternatives --auto libblas.so.3-$(uname -m)-linux-gnu" >&2 ;;
  *) echo "refit setup: torch ($torch_python) runs on $blas" ;;
esac

if [ "$need_browser" = 1 ] && [ ! -x /usr/bin/chromium ]; then
  apt_install chromium || echo "refit setup: browser tests will be skipped without /usr/bin/chromium" >&2
fi
exit 0
