"""refit's compute worker: BERT relation classification in plain torch, driven over JSON lines by refit (TS).

Depends on torch and numpy only. Entry point: `python3 -m refit_worker [--num-threads N]` with
worker/python on PYTHONPATH (src/worker/process.ts starts it that way).

Fault injection for tests on machines without a GPU (REFIT_INJECT_OOM, REFIT_INJECT_CRASH, REFIT_INJECT_HANG,
REFIT_INJECT_STATE) is described and read in faults.py.
"""
