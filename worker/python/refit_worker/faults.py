"""Fault injection for tests on machines without a GPU: every REFIT_INJECT_* variable, read once per `load`, and the
one question the worker asks at each injection point, `Faults.fires(kind, step)`.

Nothing else reads REFIT_INJECT_*; with none of them set nothing here fires and a run is unchanged.

Step numbers are the 1-based optimizer steps of the `train_step` commands, as TS numbers them. Each variable is a
list like '3,7'; 'N@R' fires on rank R only, a plain 'N' on rank 0 (the only rank of a single-process run).
- REFIT_INJECT_OOM=3,7: the first micro-batch of each listed step raises a CUDA out-of-memory error in PyTorch 2.x
  wording after its forward pass; the worker answers `oom`. Once per step per run when $REFIT_INJECT_STATE is set
  (marker file oom-N there, so a restarted worker does not fire it again), else once per step per `load`. `3*` fires
  every time step 3 runs (a shape that never fits), so tests can walk the whole recovery ladder.
- REFIT_INJECT_CRASH=15: the worker exits abruptly (os._exit(137)) when step 15 starts, once: it leaves the marker
  file crashed-15 in $REFIT_INJECT_STATE (TS sets it to the run folder; without it, a temporary folder keyed by the
  parent's pid), so a restarted worker resuming before step 15 passes it.
- REFIT_INJECT_HANG=4@1: rank 1 sleeps forever when step 4 starts, like a hung rank (once, marker hung-4@1).
- REFIT_INJECT_SAVE_CRASH=8: the worker exits abruptly (os._exit(137)) halfway through saving the step-8 checkpoint
  (its model.safetensors written, its checkpoint.pt not), like a kill -9 during the save; once (marker
  save-crashed-8). REFIT_INJECT_SAVE_HANG=8 sleeps forever there instead (once, marker save-hung-8), so a test can
  kill refit itself during the save.
A marker of rank R > 0 carries '@R' (oom-3@1).
"""
import os
import tempfile
import time

import torch

from .dist import log

KINDS = ('oom', 'crash', 'hang', 'save_crash', 'save_hang')
# The marker file of each kind that fires once per run: MARKERS[kind]-step[@rank] in the state folder.
MARKERS = {'oom': 'oom', 'crash': 'crashed', 'hang': 'hung', 'save_crash': 'save-crashed', 'save_hang': 'save-hung'}

# Text of a PyTorch 2.x CUDA OOM, raised by REFIT_INJECT_OOM so machines without a GPU can test recovery.
INJECTED_OOM_MESSAGE = (
    'CUDA out of memory. Tried to allocate 192.00 MiB. GPU 0 has a total capacity of 11.75 GiB of which '
    '89.25 MiB is free. Including non-PyTorch memory, this process has 11.65 GiB memory in use. Of the '
    'allocated memory 9.90 GiB is allocated by PyTorch, and 69.53 MiB is reserved by PyTorch but unallocated. '
    'If reserved but unallocated memory is large try setting PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True '
    'to avoid fragmentation.  See documentation for Memory Management  '
    '(https://pytorch.org/docs/stable/notes/cuda.html#environment-variables)')


def injected_oom():
    """The error an injected OOM raises: torch's CUDA OOM type where it exists, with INJECTED_OOM_MESSAGE."""
    return getattr(torch.cuda, 'OutOfMemoryError', RuntimeError)(INJECTED_OOM_MESSAGE)


def _entries(text, rank):
    """The entries of a fault list ('3,7', '3*', '3@1') that fire on `rank`, without their '@R'."""
    out = []
    for s in text.replace(' ', '').split(','):
        if not s:
            continue
        step, _, at = s.partition('@')
        if int(at or 0) == rank:
            out.append(step)
    return out


class Faults:
    """The faults of one loaded model on one rank, parsed from the environment once."""

    def __init__(self, ranks, env=None):
        env = os.environ if env is None else env
        self.rank, self.active = ranks.rank, ranks.active
        entries = {kind: _entries(env.get(f'REFIT_INJECT_{kind.upper()}', ''), self.rank) for kind in KINDS}
        self.steps = {kind: {int(s.rstrip('*')) for s in entries[kind]} for kind in KINDS}
        # Steps written '3*' fire every time they run (read for REFIT_INJECT_OOM only; elsewhere '*' is dropped).
        self.always = {int(s[:-1]) for s in entries['oom'] if s.endswith('*')}
        self.state = env.get('REFIT_INJECT_STATE') or None
        # Crash and hang fire once per run even without a run folder: then in one keyed by the parent's pid.
        self.fallback_state = os.path.join(tempfile.gettempdir(), f'refit-inject-{os.getppid()}')

    def fires(self, kind, step):
        """Whether fault `kind` ('oom', 'crash', 'hang') fires at `step` on this rank now; a fault that fires once
        per run leaves its marker file as it fires (see the module docstring)."""
        if step not in self.steps[kind]:
            return False
        if kind == 'oom':
            if step in self.always:
                return True
            if not self.state:  # no run folder: once per step per load
                self.steps[kind].discard(step)
                return True
        return self._first_time(f'{MARKERS[kind]}-{step}', self.state or self.fallback_state)

    def _first_time(self, name, state):
        """True the first time the marker `name` (of this rank) is asked for in the folder `state`."""
        marker = os.path.join(state, name + (f'@{self.rank}' if self.rank else ''))
        if os.path.exists(marker):
            return False
        os.makedirs(state, exist_ok=True)
        open(marker, 'w').close()
        return True

    def _where(self):
        return f' on rank {self.rank}' if self.active else ''

    def hang(self, step, where='at the start of step', kind='HANG'):
        """REFIT_INJECT_HANG fired: sleep forever at the start of `step`, like a hung rank."""
        log(f'REFIT_INJECT_{kind}: hanging {where} {step}{self._where()}')
        while True:
            time.sleep(3600)

    def crash(self, step, where='at the start of step', kind='CRASH'):
        """REFIT_INJECT_CRASH fired: exit at once at the start of `step`, like a killed worker."""
        log(f'REFIT_INJECT_{kind}: exiting abruptly {where} {step}{self._where()}')
        os._exit(137)

    def during_save(self, step):
        """REFIT_INJECT_SAVE_CRASH / _HANG: called halfway through saving the step-`step` checkpoint."""
        if self.fires('save_crash', step):
            self.crash(step, 'halfway through saving the checkpoint of step', 'SAVE_CRASH')
        if self.fires('save_hang', step):
            self.hang(step, 'halfway through saving the checkpoint of step', 'SAVE_HANG')
