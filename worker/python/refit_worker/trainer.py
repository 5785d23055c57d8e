"""The model being trained: built from a `load` command, then the train steps, evals, saves and restores sent to it.

Executes exactly what a command says; it never picks sizes and never retries (TS does both). What differs by strategy
is its step object (steps.py), picked once at load; saving is checkpoint.py's and fault injection faults.py's.
"""
import contextlib
import time

import numpy as np
import torch

from . import checkpoint, lora
from .checks import check_config
from .device import check_precision, is_oom, memory_stats, parse_device, release_memory
from .dist import RankLostError, Ranks, check_strategy, full_tensor, log
from .faults import Faults
from .model import HAS_SDPA, build_model
from .offload import Offload
from .optim import build_optimizer, linear_schedule, make_scaler
from .protocol import E_BAD_COMMAND, E_OOM, LEVER_VALUES, WorkerError, make_event
from .steps import STEPS
from .weights import load_into, read_model_folder


_INIT_FUNCTIONS = ('uniform_', 'normal_', 'trunc_normal_', 'constant_', 'ones_', 'zeros_', 'eye_', 'dirac_',
                   'xavier_uniform_', 'xavier_normal_', 'kaiming_uniform_', 'kaiming_normal_', 'orthogonal_',
                   'sparse_')


@contextlib.contextmanager
def skipped_init(skip):
    """With `skip`, modules built inside leave their weights as allocated (torch.nn.init's fillers do nothing): for
    a model whose every weight a restore then replaces. The fillers are put back on leaving, whatever happens."""
    if not skip:
        yield
        return
    saved = {name: getattr(torch.nn.init, name) for name in _INIT_FUNCTIONS if hasattr(torch.nn.init, name)}
    try:
        for name in saved:
            setattr(torch.nn.init, name, lambda tensor, *args, **kwargs: tensor)
        yield
    finally:
        for name, f in saved.items():
            setattr(torch.nn.init, name, f)


class Trainer:
    """One loaded model with its optimizer state, built from a `load` command.

    `partial` is the step being accumulated (its loss sum, counts and seconds so far), kept across an oom event so
    that a `continue` finishes it; `steps` is the strategy's step object, which reads and updates this trainer.
    """

    def __init__(self, cmd, ranks=None):
        self.ranks = ranks or Ranks({})
        self.strategy = cmd.get('strategy', 'ddp') if self.ranks.active else None
        self.device = parse_device(self.ranks.device_for(cmd['device']))
        self.precision = cmd['precision']
        check_precision(self.device, self.precision)
        self.config = dict(cmd['config'])
        self.head = cmd['head']
        check_config(self.config, self.head, cmd['freeze_layers'])
        if self.device.type == 'cuda':
            # Before any allocation, so the weights count against the budget too. The caching allocator
            # then raises a normal OOM at the budget, which is how a large GPU behaves like a small card.
            total = torch.cuda.get_device_properties(self.device).total_memory
            fraction = min(1.0, cmd['budget_bytes'] / total) if cmd.get('budget_bytes') else 1.0
            torch.cuda.set_per_process_memory_fraction(fraction, self.device)
        self.seed = int(cmd['seed'])
        torch.manual_seed(self.seed)
        np.random.seed(self.seed % (2 ** 32))
        self.offload = Offload(cmd.get('offload', 'none'), self.device, self.ranks.active)
        self.model = self._build_model(cmd)
        check_strategy(self.ranks, self.strategy)
        self.model.train()
        # The step object puts the model on the device: as is (one process), inside DistributedDataParallel (ddp,
        # zero1) or sharded in place (fsdp); self.model stays the bare model either way.
        self.steps = STEPS[self.strategy](self)
        self.trainable = [p for p in self.model.parameters() if p.requires_grad]
        self.optimizer = self.offload.optimizer(self.model, lambda m, device: build_optimizer(
            m, cmd['optimizer'], device, self.strategy))
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.offload.scheduled(self.optimizer), linear_schedule(cmd['schedule']['warmup_steps'], cmd['schedule']['total_steps']))
        self.scaler = make_scaler(self.precision == 'fp16')
        self.max_grad_norm = float(cmd['max_grad_norm'])
        self.pad_id = int(self.config.get('pad_token_id') or 0)
        self.partial = None  # accumulators of a step interrupted by an oom event
        self.faults = Faults(self.ranks)

    def _build_model(self, cmd):
        """The model on the host: built, its pretrained weights loaded, checkpointing and frozen layers set."""
        if cmd['attention'] not in LEVER_VALUES['attention']:
            raise WorkerError(E_BAD_COMMAND, f'attention {cmd["attention"]!r}: expected ' + ', '.join(LEVER_VALUES['attention']))
        if cmd['attention'] == 'sdpa' and not HAS_SDPA:
            log('attention sdpa: this torch has no scaled_dot_product_attention; using eager')
        # skip_init: a restore overwrites every weight next (checkpoint.restore), so drawing them is wasted time.
        self.needs_restore = bool(cmd.get('skip_init'))
        with skipped_init(self.needs_restore):
            model = build_model(self.config, self.head, use_sdpa=cmd['attention'] == 'sdpa')
        if cmd.get('pretrained'):
            tensors, _ = read_model_folder(cmd['pretrained'], self.config)
            load_into(model, tensors, cmd['pretrained'])
        model.configure(cmd['grad_checkpointing'], cmd['freeze_layers'])
        rank, alpha, dropout, targets = lora.settings(cmd)
        if rank:
            if self.strategy == 'fsdp':
                raise WorkerError(E_BAD_COMMAND, 'model.lora.rank with distributed.strategy fsdp is not supported: '
                                  'use ddp or zero1 (the adapters are small)')
            # after the pretrained weights: B is zero, so step 0 is the loaded model
            lora.apply(model, rank, alpha, dropout, targets, first_layer=cmd['freeze_layers'])
            if self.device.type == 'cuda' and self.precision in ('fp16', 'bf16'):
                # the frozen base in the autocast dtype (the planner prices it so); on CPU it stays fp32
                lora.hold_base(model, torch.float16 if self.precision == 'fp16' else torch.bfloat16)
        self.offload.configure(model)
        return model

    @property
    def sharded(self):
        """Whether this process holds only a shard of the model (fsdp)."""
        return self.steps.sharded

    def loaded_event(self):
        """The `loaded` event for this model."""
        return make_event('loaded', params=sum(p.numel() for p in self.model.parameters()),
                          trainable_params=sum(p.numel() for p in self.trainable),
                          memory=memory_stats(self.device))

    # ---- training ----

    def train_step(self, cmd, dataset):
        """Run the command's micro-batches; return a `step` event, or an `oom` event (no optimizer step)."""
        step, resumed = cmd['step'], cmd.get('continue')
        if resumed:
            if self.partial is None or self.partial['step'] != step:
                raise WorkerError(E_BAD_COMMAND, f'train_step {step} with continue: step {step} was not interrupted')
        else:
            if self.faults.fires('hang', step):
                self.faults.hang(step)
            if self.faults.fires('crash', step):
                self.faults.crash(step)
            self.steps.zero_grad()
            self.partial = {'step': step, 'loss_sum': torch.zeros((), device=self.device),
                            'examples': 0, 'units': 0, 'tokens': 0, 'padded_tokens': 0, 'seconds': 0.0,
                            'units_total': self._units_total(cmd, dataset)}
        started = time.perf_counter()
        oom = None
        try:
            for i in range(len(cmd['micro_batches'])):
                inject = i == 0 and not resumed and self.faults.fires('oom', step)
                oom = self.steps.micro_batch(cmd, i, dataset, inject)
                if oom is not None:
                    break
        except RankLostError:
            raise
        except Exception:
            self.partial = None
            self.steps.zero_grad()
            raise
        if oom is not None:
            return self._oom_event(step, oom, started)
        return self._finish_step(cmd['logical_batch_size'], started)

    def _units_total(self, cmd, dataset):
        """The token head: the labelled tokens of the whole logical batch, which every micro-batch's loss is a share
        of (counted once here from the full command: a `continue` re-splits the same examples, and every rank counts
        the same). None for the relation heads, whose share is examples / logical_batch_size."""
        if self.head['kind'] != 'token' or dataset.task != 'ner':
            return None
        return sum(dataset.units(mb['indices']) for mb in cmd['micro_batches'])

    def _oom_event(self, step, oom, started):
        """Free what the failed micro-batch held and report; accumulated gradients stay for `continue`."""
        release_memory()
        self.partial['seconds'] += time.perf_counter() - started
        rank = oom[2] if len(oom) > 2 else None
        where = f' on rank {rank}' if rank is not None else ''
        log(f'out of memory in step {step}, micro-batch {oom[0]}{where}: {oom[1].splitlines()[0][:200]}')
        extra = {'rank': rank} if rank is not None else {}
        return make_event('oom', step=step, completed_micro_batches=oom[0], message=oom[1],
                          memory=memory_stats(self.device), **extra)

    def _finish_step(self, logical_batch_size, started):
        """Sum over the ranks; unscale, clip, optimizer + scheduler step; the `step` event."""
        st, self.partial = self.partial, None
        self.steps.reduce(st)
        if st['examples'] != logical_batch_size:
            self.steps.zero_grad()
            raise WorkerError(E_BAD_COMMAND, f'step {st["step"]}: micro-batches hold {st["examples"]} examples '
                              f'but logical_batch_size is {logical_batch_size}')
        lr = self.optimizer.param_groups[0]['lr']
        scale = self.scaler.get_scale()
        try:
            max_norm = self.max_grad_norm if self.max_grad_norm > 0 else float('inf')
            if self.offload.optimizer_on_host:  # the gradients are in host memory: unscaled, clipped, stepped there
                grad_norm = self.optimizer.step_on_host(self.scaler, max_norm)
            else:
                self.scaler.unscale_(self.optimizer)
                grad_norm = float(full_tensor(torch.nn.utils.clip_grad_norm_(self.trainable, max_norm)))
                self.scaler.step(self.optimizer)  # skips the update when fp16 gradients overflowed
        except Exception as e:
            self.steps.zero_grad()
            if not is_oom(e):
                raise
            # Smaller micro-batches cannot help here: weights + gradients + optimizer state do not fit.
            raise WorkerError(E_OOM, f'out of memory in the optimizer step of step {st["step"]} (weights, '
                              f'gradients and optimizer state do not fit): {str(e).splitlines()[0]}') from None
        self.scaler.update()
        self.scheduler.step()
        self.steps.zero_grad()
        # The mean over examples, or over labelled tokens for the token head; .item() syncs, so the timing is real.
        loss = st['loss_sum'].item() / max(st['units'], 1)
        event = dict(step=st['step'], loss=loss, lr=lr, grad_norm=grad_norm, examples=st['examples'],
                     tokens=st['tokens'], padded_tokens=st['padded_tokens'],
                     seconds=st['seconds'] + time.perf_counter() - started, **self.steps.memory())
        if self.scaler.is_enabled() and self.scaler.get_scale() < scale:
            event['skipped'] = True
        return make_event('step', **event)

    # ---- evaluation, save, restore ----

    def evaluate(self, cmd, dataset):
        """Logits for every example of the batches, in batch order (no grad, eval mode); the token head answers
        `tags` and `scores` instead: per example, the tag id and its softmax probability at each position read, and
        on a labelled data set `nll`: the gold tag's cross-entropy there."""
        started = time.perf_counter()
        self.model.eval()
        try:
            rows = self.steps.eval_logits(cmd['batches'], dataset)
        finally:
            self.model.train()
        answer = ({'tags': [r[0] for r in rows], 'scores': [r[1] for r in rows]} if self.head['kind'] == 'token'
                  else {'logits': rows})
        if self.head['kind'] == 'token' and rows and all(len(r) > 2 and r[2] is not None for r in rows):
            answer['nll'] = [r[2] for r in rows]  # a labelled data set: the gold tag's cross-entropy per position
        return make_event('eval_result', tag=cmd['tag'], **answer,
                          seconds=time.perf_counter() - started, memory=memory_stats(self.device))

    def save(self, path, checkpoint_too, step):
        """The model folder at `path` (+ checkpoint.pt when `checkpoint_too`): checkpoint.save."""
        checkpoint.save(self, path, checkpoint_too, step)

    def restore(self, path):
        """Weights (+ training state) from `path`; returns the saved step: checkpoint.restore."""
        return checkpoint.restore(self, path)
