"""The model being trained: build/load, optimizer + schedule, train steps with OOM capture, eval, save/restore.

Executes exactly what a command says; it never picks sizes and never retries (TS does both).
Gradient accumulation is defined on the logical batch: micro-batch loss = CE mean x (its examples /
logical_batch_size), so any split of a logical batch gives the same gradient up to rounding.
"""
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

from . import checkpoint
from .checks import check_config
from .dist import FSDP_OOM, RankLostError, Ranks, Replicas, Shards, check_strategy, full_tensor, log, shard
from .device import autocast_for, check_precision, is_oom, memory_stats, parse_device, release_memory
from .faults import Faults, injected_oom
from .model import HAS_SDPA, build_model
from .optim import build_optimizer, linear_schedule, make_scaler
from .protocol import E_BAD_COMMAND, E_DATASET, E_OOM, LEVER_VALUES, WorkerError, make_event
from .weights import load_into, read_model_folder


def micro_batch_seed(seed, step, first_index):
    """Dropout seed of one micro-batch, from (run seed, step, its first example index).

    Reproducible for a given batch plan (also after a restart); a re-split micro-batch draws different
    masks, so with dropout > 0 a recovered step is statistically, not bitwise, equal to a clean one.
    """
    return ((seed * 1_000_003 + step) * 1_000_033 + first_index) % (2 ** 63)


class Trainer:
    """One loaded model with its optimizer state, built from a `load` command."""

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
        if cmd['attention'] not in LEVER_VALUES['attention']:
            raise WorkerError(E_BAD_COMMAND, f'attention {cmd["attention"]!r}: expected ' + ', '.join(LEVER_VALUES['attention']))
        if cmd['attention'] == 'sdpa' and not HAS_SDPA:
            log('attention sdpa: this torch has no scaled_dot_product_attention; using eager')
        self.model = build_model(self.config, self.head, use_sdpa=cmd['attention'] == 'sdpa')
        if cmd.get('pretrained'):
            tensors, _ = read_model_folder(cmd['pretrained'], self.config)
            load_into(self.model, tensors, cmd['pretrained'])
        self.model.configure(cmd['grad_checkpointing'], cmd['freeze_layers'])
        check_strategy(self.ranks, self.strategy)
        if self.strategy != 'fsdp':  # fsdp moves each unit's shard to the device as it shards it (dist.Shards)
            self.model.to(self.device)
        self.model.train()
        # Several ranks: ddp and zero1 put the model inside DistributedDataParallel (dist.Replicas), every .grad a view
        # into its buckets; self.model stays the bare model, so saves have no `module.` prefix and eval runs it as is.
        # fsdp shards it in place (dist.Shards): its parameters become DTensors, gathered whole only to save.
        self.replicas = self.shards = None
        if self.strategy == 'fsdp':
            if self.precision == 'fp16':
                raise WorkerError(E_BAD_COMMAND, 'distributed.strategy fsdp trains in bf16 or fp32 (fp16 would need '
                                  "FSDP's sharded loss scaler): set memory.precision=bf16, or fp32 on a card "
                                  'without bf16')
            self.shards = Shards(self.model, self.ranks, self.device)
        elif self.ranks.active:
            self.replicas = Replicas(self.model, self.ranks, self.device)
        self.trainable = [p for p in self.model.parameters() if p.requires_grad]
        self.optimizer = build_optimizer(self.model, cmd['optimizer'], self.device, zero1=self.strategy == 'zero1')
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, linear_schedule(cmd['schedule']['warmup_steps'], cmd['schedule']['total_steps']))
        self.scaler = make_scaler(self.precision == 'fp16')
        self.max_grad_norm = float(cmd['max_grad_norm'])
        self.pad_id = int(self.config.get('pad_token_id') or 0)
        self.partial = None  # accumulators of a step interrupted by an oom event
        self.faults = Faults(self.ranks)

    def loaded_event(self):
        """The `loaded` event for this model."""
        return make_event('loaded', params=sum(p.numel() for p in self.model.parameters()),
                          trainable_params=sum(p.numel() for p in self.trainable),
                          memory=memory_stats(self.device))

    # ---- training ----

    def train_step(self, cmd, dataset):
        """Run the command's micro-batches; return a `step` event, or an `oom` event (no optimizer step)."""
        step = cmd['step']
        if cmd.get('continue'):
            if self.partial is None or self.partial['step'] != step:
                raise WorkerError(E_BAD_COMMAND, f'train_step {step} with continue: step {step} was not interrupted')
        else:
            if self.faults.fires('hang', step):
                self.faults.hang(step)
            if self.faults.fires('crash', step):
                self.faults.crash(step)
            self._zero_grad()
            self.partial = {'step': step, 'loss_sum': torch.zeros((), device=self.device),
                            'examples': 0, 'tokens': 0, 'padded_tokens': 0, 'seconds': 0.0}
        started = time.perf_counter()
        oom = None
        try:
            for i, mb in enumerate(cmd['micro_batches']):
                inject = i == 0 and not cmd.get('continue') and self.faults.fires('oom', step)
                if self.shards is not None:
                    self._sharded_micro_batch(step, i, len(cmd['micro_batches']), mb, dataset,
                                              cmd['logical_batch_size'], inject)
                    continue
                if self.ranks.active:
                    oom = self._agreed_micro_batch(step, i, mb, dataset, cmd['logical_batch_size'], inject)
                    if oom is not None:
                        break
                    continue
                try:
                    self._commit(self._micro_batch(mb, dataset, cmd['logical_batch_size'], inject))
                except Exception as e:  # the frame holding this micro-batch's tensors dies with `e`
                    if not is_oom(e):
                        raise
                    oom = (i, str(e))
                    break
        except RankLostError:
            raise
        except Exception:
            self.partial = None
            self._zero_grad()
            raise
        if oom is not None:
            return self._oom_event(step, oom, started)
        return self._finish_step(cmd['logical_batch_size'], started)

    def _agreed_micro_batch(self, step, i, mb, dataset, logical_batch_size, inject):
        """One micro-batch on several ranks: this rank's share, then every rank says how it went before anything
        is kept. If any rank ran out of memory, every rank puts back its gradients from before this micro-batch, so
        all drop the same micro-batch and TS re-splits it the same way for all (no rank waits in a collective that
        another left). Returns None, or (micro-batch index, message, rank) for the oom event; raises on an error."""
        mine = dict(mb, indices=shard(mb['indices'], self.ranks.rank, self.ranks.world))
        pending, status = None, ('ok', '', '')
        try:
            if mine['indices']:  # a share can be empty at the end of a batch: nothing to add then
                pending = self._micro_batch(mine, dataset, logical_batch_size, inject)
        except Exception as e:  # noqa: BLE001 — every failure is agreed on, then raised or reported by all
            code = e.code if isinstance(e, WorkerError) else ('E_OOM' if is_oom(e) else 'E_INTERNAL')
            status = ('oom' if is_oom(e) else 'error', str(e) if is_oom(e) else (getattr(e, 'message', None) or
                      f'{type(e).__name__}: {(str(e).splitlines() or [""])[0]}'), code)
            if status[0] == 'error':
                log(f'rank {self.ranks.rank}: step {step} micro-batch {i}: {status[1]}')
            del e
        failed = self.ranks.agree(f'train_step {step}.{i}', status)
        if failed is None:
            self._commit(pending)
            return None
        self._rollback(pending)
        rank, kind, message, code = failed
        if kind == 'error':
            raise WorkerError(code if code != 'E_INTERNAL' else E_BAD_COMMAND, f'rank {rank}: {message}')
        return (i, message, rank)

    def _sharded_micro_batch(self, step, i, count, mb, dataset, logical_batch_size, inject):
        """One micro-batch under fsdp: this rank's share (every rank runs every forward, since FSDP gathers the weights
        inside it: an empty share runs one example with weight 0), reduce-scattered with the last of the step. An OOM
        cannot be agreed on here (the other ranks already wait in FSDP's next collective): this rank says so in one
        line and exits; TS restarts the run from its last checkpoint with a smaller micro-batch."""
        self.shards.gradient_sync(i == count - 1)
        mine = shard(mb['indices'], self.ranks.rank, self.ranks.world)
        weight = 1.0 if mine else 0.0
        try:
            pending = self._micro_batch(dict(mb, indices=mine or mb['indices'][:1]), dataset, logical_batch_size,
                                        inject, weight)
        except Exception as e:  # noqa: BLE001
            if not is_oom(e):
                raise
            log(f'rank {self.ranks.rank}: {FSDP_OOM} at step {step}, micro-batch {i}: '
                f'{(str(e).splitlines() or [""])[0][:300]}')
            sys.stderr.flush()
            os._exit(3)
        self._commit(pending)

    def _batch(self, mb, dataset):
        """The padded tensors of one micro-batch, after checking its length against the position table."""
        if mb['seq_len'] > self.config['max_position_embeddings']:
            raise WorkerError(E_BAD_COMMAND, f'seq_len {mb["seq_len"]} exceeds max_position_embeddings '
                              f'{self.config["max_position_embeddings"]} of this model')
        return dataset.batch(mb['indices'], mb['seq_len'], self.pad_id, self.device)

    def _micro_batch(self, mb, dataset, logical_batch_size, inject, weight=1.0):
        """Forward + backward of one micro-batch, adding its share into the step's gradients (several ranks: this
        rank's gradients only, under DDP's no_sync; the step's sync pass sums them). `weight` 0: a stand-in that only
        keeps FSDP's collectives in step."""
        if self.replicas is None:
            return self._forward_backward(self.model, mb, dataset, logical_batch_size, inject, weight)
        with self.replicas.local():
            return self._forward_backward(self.replicas.forward, mb, dataset, logical_batch_size, inject, weight)

    def _forward_backward(self, forward, mb, dataset, logical_batch_size, inject, weight):
        batch = self._batch(mb, dataset)
        low, high = batch['label_range']
        if low < 0 or high >= self.head['num_labels']:
            raise WorkerError(E_DATASET, f'{dataset.path}: labels must be in [0, {self.head["num_labels"]}) '
                              f'for training, got {low}..{high}')
        n = len(mb['indices']) if weight else 0
        torch.manual_seed(micro_batch_seed(self.seed, self.partial['step'], mb['indices'][0]))
        with autocast_for(self.device, self.precision):
            logits = forward(batch['input_ids'], batch['attention_mask'], batch['head_pos'], batch['tail_pos'],
                             batch['lengths'])
        ce = F.cross_entropy(logits.float(), batch['labels'])  # mean over this micro-batch
        if inject:
            raise injected_oom()
        # FSDP averages the reduce-scattered gradients over the ranks: × world makes that the sum DDP's hook takes.
        scale = (n / logical_batch_size) * (self.ranks.world if self.shards is not None else 1)
        if self.shards is not None:  # nothing to put aside: FSDP accumulates unsharded gradients itself
            self.scaler.scale(ce * scale).backward()
            return {'stash': None, 'loss': ce.detach() * n, 'n': n, 'tokens': batch['tokens'] if n else 0,
                    'padded': n * mb['seq_len']}
        # Move earlier micro-batches' gradients aside so an OOM inside this backward cannot leave a
        # half-added micro-batch in them. Costs one extra gradient set at the end of backward, when
        # the activations are already freed; the first micro-batch of a step costs nothing.
        if self.replicas is not None and self.partial['examples'] == 0:
            # Nothing kept yet in this step: backward adds straight into the zeroed bucket views (no second gradient
            # set); undoing this micro-batch is zeroing them again.
            try:
                self.scaler.scale(ce * scale).backward()
            except Exception:
                self.replicas.zero()
                raise
            stash = None
        else:
            stash = {p: p.grad for p in self.trainable if p.grad is not None}
            for p in stash:
                p.grad = None
            try:
                self.scaler.scale(ce * scale).backward()
            except Exception:
                for p in self.trainable:
                    p.grad = stash.get(p)
                raise
        return {'stash': stash, 'loss': ce.detach() * n, 'n': n, 'tokens': batch['tokens'], 'padded': n * mb['seq_len']}

    def _commit(self, pending):
        """Keeps a finished micro-batch: its gradients added to the step's, its numbers to the step's."""
        if pending is None:
            return
        for p, g in (pending['stash'] or {}).items():
            p.grad = g if p.grad is None else g.add_(p.grad)
        st = self.partial
        st['loss_sum'] += pending['loss']
        st['examples'] += pending['n']
        st['tokens'] += pending['tokens']
        st['padded_tokens'] += pending['padded']

    def _rollback(self, pending):
        """Drops a finished micro-batch that another rank could not finish: the gradients from before it come back."""
        if pending is None:
            return
        if pending['stash'] is None:  # the first micro-batch of the step went straight into the bucket views (ddp)
            self.replicas.zero()
            return
        for p in self.trainable:
            p.grad = pending['stash'].get(p)

    def _zero_grad(self):
        """Gradients to zero: None (frees them) in one process; in place with several ranks (they are bucket views)."""
        if self.replicas is not None:
            self.replicas.zero()
        else:
            self.optimizer.zero_grad(set_to_none=True)

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

    def _reduce_step(self, st):
        """Several ranks: the step's gradients and numbers summed over the ranks (each rank's loss was already scaled
        by its share of the logical batch, so the sum is the single-process gradient)."""
        if not self.ranks.active:
            return
        if self.replicas is not None:
            self.replicas.sync()  # a rank whose shares were all empty sends its zeros
        totals = torch.tensor([float(st['loss_sum']), st['examples'], st['tokens'], st['padded_tokens']],
                              dtype=torch.float64)
        if self.ranks.backend == 'nccl':
            totals = totals.to(self.device)
        self.ranks.all_reduce_sum(totals)
        loss, examples, tokens, padded = totals.cpu().tolist()
        st['loss_sum'] = torch.tensor(loss)
        st['examples'], st['tokens'], st['padded_tokens'] = int(examples), int(tokens), int(padded)

    def _finish_step(self, logical_batch_size, started):
        """Unscale, clip, optimizer + scheduler step; the `step` event."""
        st, self.partial = self.partial, None
        self._reduce_step(st)
        if st['examples'] != logical_batch_size:
            self._zero_grad()
            raise WorkerError(E_BAD_COMMAND, f'step {st["step"]}: micro-batches hold {st["examples"]} examples '
                              f'but logical_batch_size is {logical_batch_size}')
        lr = self.optimizer.param_groups[0]['lr']
        scale = self.scaler.get_scale()
        try:
            self.scaler.unscale_(self.optimizer)
            max_norm = self.max_grad_norm if self.max_grad_norm > 0 else float('inf')
            grad_norm = float(full_tensor(torch.nn.utils.clip_grad_norm_(self.trainable, max_norm)))
            self.scaler.step(self.optimizer)  # skips the update when fp16 gradients overflowed
        except Exception as e:
            self._zero_grad()
            if not is_oom(e):
                raise
            # Smaller micro-batches cannot help here: weights + gradients + optimizer state do not fit.
            raise WorkerError(E_OOM, f'out of memory in the optimizer step of step {st["step"]} (weights, '
                              f'gradients and optimizer state do not fit): {str(e).splitlines()[0]}') from None
        self.scaler.update()
        self.scheduler.step()
        self._zero_grad()
        loss = st['loss_sum'].item() / st['examples']  # .item() syncs, so the timing below is real
        event = dict(step=st['step'], loss=loss, lr=lr, grad_norm=grad_norm, examples=st['examples'],
                     tokens=st['tokens'], padded_tokens=st['padded_tokens'],
                     seconds=st['seconds'] + time.perf_counter() - started, **self._step_memory())
        if self.scaler.is_enabled() and self.scaler.get_scale() < scale:
            event['skipped'] = True
        return make_event('step', **event)

    def _step_memory(self):
        """The step's memory figures. Several ranks: every rank's (`rank_memory`, in rank order), and as `memory` the
        one of the rank that peaked highest: that rank runs out first, so it is the one reports and plans read."""
        mine = memory_stats(self.device)
        if not self.ranks.active:
            return {'memory': mine}
        every = self.ranks.gather(mine)
        peak = lambda m: m.get('max_memory_reserved', m.get('peak_rss_bytes')) or 0
        return {'memory': max(every, key=peak), 'rank_memory': every}

    # ---- evaluation ----

    def evaluate(self, cmd, dataset):
        """Logits for every example of the batches, in batch order (no grad, eval mode)."""
        started = time.perf_counter()
        if self.shards is not None:
            return self._evaluate_sharded(cmd, dataset, started)
        chunks = []
        self.model.eval()
        try:
            with torch.inference_mode():  # like no_grad, minus autograd's version counters
                for mb in cmd['batches']:
                    chunks.append(self._logits(mb, dataset))
        finally:
            self.model.train()
        logits = torch.cat(chunks).tolist() if chunks else []
        return make_event('eval_result', tag=cmd['tag'], logits=logits,
                          seconds=time.perf_counter() - started, memory=memory_stats(self.device))

    def _logits(self, mb, dataset):
        batch = self._batch(mb, dataset)
        with autocast_for(self.device, self.precision):
            logits = self.model(batch['input_ids'], batch['attention_mask'], batch['head_pos'], batch['tail_pos'],
                                batch['lengths'])
        return logits.float().cpu()

    def _evaluate_sharded(self, cmd, dataset, started):
        """fsdp: every rank runs every batch's forward (FSDP gathers the weights inside it) on its share of the
        examples (an empty share runs one, then drops it); the shares are gathered back into batch order."""
        rank, world = self.ranks.rank, self.ranks.world
        out = []
        self.model.eval()
        try:
            with torch.no_grad():
                for mb in cmd['batches']:
                    mine = shard(mb['indices'], rank, world)
                    rows = self._logits(dict(mb, indices=mine or mb['indices'][:1]), dataset).tolist()
                    parts = self.ranks.gather(rows if mine else [])
                    merged = [None] * len(mb['indices'])
                    for r, part in enumerate(parts):
                        merged[r::world] = part
                    out.extend(merged)
        finally:
            self.model.train()
        return make_event('eval_result', tag=cmd['tag'], logits=out,
                          seconds=time.perf_counter() - started, memory=memory_stats(self.device))

    # ---- save / restore ----

    def save(self, path, checkpoint_too, step):
        """The model folder at `path` (+ checkpoint.pt when `checkpoint_too`): checkpoint.save."""
        checkpoint.save(self, path, checkpoint_too, step)

    def restore(self, path):
        """Weights (+ training state) from `path`; returns the saved step: checkpoint.restore."""
        return checkpoint.restore(self, path)
