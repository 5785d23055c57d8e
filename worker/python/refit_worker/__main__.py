"""The worker's command loop: JSON commands on stdin, one JSON event per command on stdout.

Run as `python3 -m refit_worker [--num-threads N]` with worker/python on PYTHONPATH. Emits `ready` at
start-up. A failing command answers an `error` event; the loop itself never dies on a bad command.
"""
import json
import math
import os
import platform
import sys
import time
import traceback

import numpy as np
import torch

from .data import EncodedDataset, InlineTokenRows
from .dist import RankLostError, Ranks
from .export import export_onnx
from .device import (available_cores, capabilities, is_oom, memory_stats, release_memory, reset_peak,
                     set_threads)
from .protocol import (E_BAD_COMMAND, E_INTERNAL, E_OOM, E_PROTOCOL, PROTOCOL_VERSION, WorkerError,
                       check_command, make_event)
from .trainer import Trainer
from .weights import inspect_weights


def _finite(value):
    """JSON has no NaN/Infinity (JSON.parse rejects them): non-finite floats become null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list) and value and isinstance(value[0], (list, dict, float)):
        return [_finite(v) for v in value]
    return value


class InlineRows(EncodedDataset):
    """The encoded rows an `eval` command carries (predict): the arrays of an encoded dataset, built in memory."""

    def __init__(self, rows):  # no file to read: EncodedDataset.__init__ is not called, only batch() is shared
        try:
            ids = [np.asarray(r, dtype=np.int64) for r in rows['input_ids']]
            head = np.asarray(rows['head_pos'], dtype=np.int64)
            tail = np.asarray(rows['tail_pos'], dtype=np.int64)
        except (KeyError, TypeError, ValueError) as e:
            raise WorkerError(E_BAD_COMMAND, f'eval: rows must hold input_ids, head_pos and tail_pos ({e})') from e
        self.path = '<eval rows>'
        self.n = len(ids)
        if head.shape != (self.n,) or tail.shape != (self.n,) or any(r.ndim != 1 for r in ids):
            raise WorkerError(E_BAD_COMMAND, f'eval: rows need one id list, head_pos and tail_pos per row '
                              f'({self.n} id lists, head_pos {list(head.shape)}, tail_pos {list(tail.shape)})')
        lengths = np.asarray([len(r) for r in ids], dtype=np.int64)
        offsets = np.zeros(self.n + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        self.total_tokens = int(offsets[-1])
        self.arrays = {'offsets': offsets, 'lengths': lengths, 'head_pos': head, 'tail_pos': tail,
                       'input_ids': np.concatenate(ids) if ids else np.zeros(0, dtype=np.int64),
                       'labels': np.zeros(self.n, dtype=np.int64)}  # predict has no labels; batch() reads them


# Commands only rank 0 runs when there are several ranks (they read the unwrapped model or report rank 0's figures);
# every other command runs on every rank, and the ranks agree on its outcome before rank 0 answers.
LEADER_ONLY = frozenset(('eval', 'inspect_weights', 'memory', 'export_onnx'))


class Session:
    """Worker state across commands: the loaded model (Trainer) and the opened datasets."""

    def __init__(self, out, num_threads, ranks=None):
        self.out = out
        self.num_threads = num_threads
        self.ranks = ranks or Ranks({})
        self.trainer = None
        self.datasets = {}

    def emit(self, event):
        """Write one event as one JSON line and flush (TS reads line by line); only rank 0 speaks the protocol."""
        if not self.ranks.leader:
            return
        self.out.write(json.dumps(_finite(event), allow_nan=False, separators=(',', ':')) + '\n')
        self.out.flush()

    def ready_event(self):
        extra = {'world_size': self.ranks.world, 'backend': self.ranks.backend} if self.ranks.active else {}
        return make_event('ready', protocol_version=PROTOCOL_VERSION, torch_version=torch.__version__,
                          python_version=platform.python_version(), capabilities=capabilities(),
                          num_threads=self.num_threads, **extra)

    def _need(self, cmd):
        if self.trainer is None:
            raise WorkerError(E_BAD_COMMAND, f'{cmd["type"]}: no model loaded; send `load` first')
        if 'dataset' in cmd and cmd['dataset'] not in self.datasets:
            raise WorkerError(E_BAD_COMMAND, f'{cmd["type"]}: dataset {cmd["dataset"]!r} is not open')
        return self.trainer, self.datasets.get(cmd.get('dataset'))

    def hello(self, cmd):
        if cmd['protocol_version'] != PROTOCOL_VERSION:
            raise WorkerError(E_PROTOCOL, f'protocol version {cmd["protocol_version"]} requested, '
                              f'this worker speaks {PROTOCOL_VERSION}')
        return self.ready_event()

    def load(self, cmd):
        if cmd.get('num_threads'):
            self.num_threads = int(cmd['num_threads'])
            set_threads(self.num_threads)
        self.trainer = None  # free the previous model before building the next one
        self.trainer = Trainer(cmd, self.ranks)
        return self.trainer.loaded_event()

    def open_dataset(self, cmd):
        ds = EncodedDataset(cmd['path'])
        self.datasets[cmd['name']] = ds
        return make_event('dataset_opened', name=cmd['name'], n=ds.n, total_tokens=ds.total_tokens)

    def train_step(self, cmd):
        trainer, ds = self._need(cmd)
        return trainer.train_step(cmd, ds)

    def eval(self, cmd):
        if ('dataset' in cmd) == ('rows' in cmd):
            raise WorkerError(E_BAD_COMMAND, 'eval: give either dataset or rows')
        trainer, ds = self._need(cmd)
        rows = InlineTokenRows if trainer.head['kind'] == 'token' else InlineRows
        return trainer.evaluate(cmd, ds if ds is not None else rows(cmd['rows']))

    def save(self, cmd):
        trainer, _ = self._need(cmd)
        trainer.save(cmd['path'], bool(cmd['checkpoint']), int(cmd['step']))
        return make_event('saved', path=cmd['path'], step=int(cmd['step']))

    def restore(self, cmd):
        trainer, _ = self._need(cmd)
        return make_event('restored', path=cmd['path'], step=trainer.restore(cmd['path']))

    def inspect_weights(self, cmd):
        return make_event('weights_info', path=cmd['path'], tensors=inspect_weights(cmd['path']))

    def memory(self, cmd):
        device = self.trainer.device if self.trainer else None
        event = make_event('memory', memory=memory_stats(device))
        if cmd.get('reset_peak'):
            reset_peak(device)
        return event

    def export_onnx(self, cmd):
        trainer, _ = self._need(cmd)
        if trainer.sharded:
            raise WorkerError(E_BAD_COMMAND, 'export_onnx: this worker holds an fsdp shard of the model; export the '
                              'saved model folder from a worker of its own')
        return export_onnx(trainer.model, cmd['path'], cmd['opset'])

    def shutdown(self, cmd):
        return make_event('bye')

    def handle(self, line):
        """Answer one command line; returns False after `shutdown`."""
        kind = None
        try:
            try:
                cmd = json.loads(line)
            except ValueError as e:
                raise WorkerError(E_BAD_COMMAND, f'not a JSON command: {e}') from e
            kind = check_command(cmd)
            if self.ranks.active and not self.ranks.leader and kind in self._leader_only():
                return True
            event = getattr(self, kind)(cmd)
        except RankLostError:
            raise
        except WorkerError as e:
            print(f'refit_worker: {kind or "?"} failed: {e.code}: {e.message}', file=sys.stderr, flush=True)
            event = make_event('error', code=e.code, message=e.message, **({'command': kind} if kind else {}))
        except Exception as e:  # a bug or an unexpected torch error: report it, keep serving
            tb = traceback.format_exc()
            print(tb, file=sys.stderr, flush=True)
            first = (str(e).splitlines() or [''])[0]
            # An OOM here (load, eval, optimizer step) is reported verbatim for the doctor's parser.
            code, message = (E_OOM, first) if is_oom(e) else (E_INTERNAL, f'{type(e).__name__}: {first}')
            event = make_event('error', code=code, message=message, traceback=tb,
                               **({'command': kind} if kind else {}))
        if self.ranks.active and kind is not None and kind not in self._leader_only():
            event = self._agree(kind, event)
        if event.get('code') == E_OOM:
            release_memory()  # only now: the exception's frames held the tensors until the except ended
        self.emit(event)
        return event['type'] != 'bye'

    def _leader_only(self):
        """fsdp: eval runs on every rank too (each forward gathers the sharded weights from all of them)."""
        sharded = self.trainer is not None and self.trainer.sharded
        return LEADER_ONLY - {'eval'} if sharded else LEADER_ONLY

    def _agree(self, kind, event):
        """Every rank reports how the command went; rank 0 answers with the first rank's error when any failed."""
        status = ('error', event['message'], event['code']) if event['type'] == 'error' else ('ok', '', '')
        failed = self.ranks.agree(kind, status)
        if failed is None or event['type'] == 'error':
            return event
        rank, _, message, code = failed
        return make_event('error', code=code, message=f'rank {rank}: {message}', command=kind)


def main(argv):
    # The protocol gets a private copy of stdout; fd 1 then points at stderr so that stray prints
    # (ours, torch's or a C library's) can never corrupt the JSON stream.
    out = os.fdopen(os.dup(1), 'w', encoding='utf-8')
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    threads = int(argv[argv.index('--num-threads') + 1]) if '--num-threads' in argv else 0
    threads = threads or available_cores()
    set_threads(threads)
    ranks = Ranks()
    try:
        ranks.init()
    except Exception as e:  # no group: say why in one line (port taken, a rank that never came, …)
        print(f'refit_worker: rank {ranks.rank} of {ranks.world}: could not join the process group at '
              f'{os.environ.get("MASTER_ADDR")}:{os.environ.get("MASTER_PORT")}: {(str(e).splitlines() or [""])[0]}',
              file=sys.stderr, flush=True)
        return 3
    session = Session(out, threads, ranks)
    session.emit(session.ready_event())
    try:
        while True:
            if ranks.leader:
                line = sys.stdin.readline()  # '' at EOF: the parent closed stdin or died
                if ranks.active:
                    ranks.broadcast_command(line)
            else:
                line = ranks.broadcast_command(None)  # the other ranks follow rank 0's commands
            if not line:
                break
            if line.strip() and not session.handle(line):
                break
    except RankLostError as e:
        print(f'refit_worker: {e}', file=sys.stderr, flush=True)
        if ranks.leader:
            time.sleep(1)  # the rank that broke the group (its last line says why) is reported first, not rank 0
        os._exit(3)  # the group is broken: exit without waiting in its teardown
    ranks.shutdown()
    if ranks.active:
        # Leave without the interpreter's teardown: DDP's reducer still holds the process group, and destroying it
        # then joins gloo threads that wait on ranks already gone (torch 1.13 hung there once rank 0 had exited).
        out.flush()
        sys.stderr.flush()
        os._exit(0)
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
