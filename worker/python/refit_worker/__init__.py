"""refit's compute worker: BERT relation classification in plain torch, driven over JSON lines by refit (TS).

Depends on torch and numpy only. Entry point: `python3 -m refit_worker` (see __main__.py).
"""
