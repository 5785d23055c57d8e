"""refit's compute worker: BERT relation classification in plain torch, driven over JSON lines by refit (TS).

Depends on torch and numpy only. Entry point: `python3 -m refit_worker [--num-threads N]` with
worker/python on PYTHONPATH (src/worker/process.ts starts it that way).

Fault injection for tests on machines without a GPU (step numbers are the 1-based optimizer steps of
the `train_step` commands, as TS numbers them):
- REFIT_INJECT_OOM=3,7: the first micro-batch of each listed step raises a CUDA out-of-memory error in
  PyTorch 2.x wording after its forward pass; the worker answers `oom`. Once per step per run when
  $REFIT_INJECT_STATE is set (marker file oom-N there, so a restarted worker does not fire it again),
  else once per step per `load`. `3*` fires every time step 3 runs (a shape that never fits).
- REFIT_INJECT_CRASH=15: the worker exits abruptly (os._exit(137)) when step 15 starts, once: it leaves
  the marker file crashed-15 in $REFIT_INJECT_STATE (TS sets it to the run folder; without it, a
  temporary folder keyed by the parent's pid), so a restarted worker resuming before step 15 passes it.
"""
