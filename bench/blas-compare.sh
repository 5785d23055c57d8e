#!/usr/bin/env bash
# Debian's BLAS packages compared under the worker's torch (issue 20): one nn.Linear(256, 1024) of BERT-mini's size
# on 2048 rows, GFLOP/s with 1 thread and with every core, each library picked by LD_LIBRARY_PATH from the packages
# unpacked in a temporary folder (nothing is installed); the worker's own probe names the library each run used.
# Rounds alternate the libraries, so load from other jobs hits them alike. Needs apt-get (download only) and dpkg.
# Run: bash bench/blas-compare.sh [rounds] > bench/results/blas.md
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
python=${REFIT_PYTHON:-/usr/bin/python3}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && apt-get download -qq libblas3 libopenblas0-pthread libopenblas0-openmp libblis4-pthread libblis4-openmp \
  libatlas3-base 2>/dev/null && for d in *.deb; do dpkg -x "$d" root; done)
lib=$tmp/root/usr/lib/x86_64-linux-gnu
cores=$(nproc)
# set_threads: torch's threads and OpenBLAS's own pool, as the worker sets them.
gemm='
import os, time, torch
from refit_worker.device import blas_library, set_threads
set_threads(int(os.environ["THREADS"]))
x, lin = torch.randn(2048, 256), torch.nn.Linear(256, 1024)
with torch.no_grad():
    lin(x)
    t, n = time.perf_counter(), 20
    for _ in range(n):
        lin(x)
    dt = (time.perf_counter() - t) / n
print(blas_library()["name"] + "\t%.1f" % (2 * 2048 * 256 * 1024 / dt / 1e9))
'
echo "# Debian's BLAS packages under the worker's torch: GFLOP/s of nn.Linear(256, 1024) on 2048 rows"
echo
echo "Command: \`bash bench/blas-compare.sh $rounds\` ($(date -u +%F), $cores × $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)," \
  "torch $("$python" -c 'import torch; print(torch.__version__)')). Load average at the start: $(cut -d' ' -f1-3 /proc/loadavg)."
echo "The machine is shared with other jobs: compare rows of one run, and the best of the rounds."
echo
echo "| library (the worker's probe) | threads | GFLOP/s per round | best |"
echo "|---|---|---|---|"
declare -A figures names
for r in $(seq "$rounds"); do
  for flavour in blas openblas-pthread openblas-openmp blis-pthread blis-openmp atlas; do
    for threads in 1 "$cores"; do
      out=$(THREADS=$threads LD_LIBRARY_PATH=$lib/$flavour:$lib PYTHONPATH=worker/python "$python" -c "$gemm")
      names[$flavour]=${out%%$'\t'*}
      figures[$flavour/$threads]="${figures[$flavour/$threads]:-}${figures[$flavour/$threads]:+ / }${out##*$'\t'}"
    done
  done
done
for flavour in blas openblas-pthread openblas-openmp blis-pthread blis-openmp atlas; do
  for threads in 1 "$cores"; do
    f=${figures[$flavour/$threads]}
    best=$(tr '/' '\n' <<<"$f" | sort -g | tail -1 | xargs)
    echo "| ${names[$flavour]} | $threads | $f | $best |"
  done
done
echo
echo "Load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)."
