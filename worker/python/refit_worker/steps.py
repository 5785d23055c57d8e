"""One step object per strategy: one process (Single), replicas (ddp and zero1: Replicated) and shards (fsdp:
Sharded), each with the interface the trainer calls: zero_grad, micro_batch, reduce, memory, eval_logits and the
save/restore hooks whole_states and load_optimizer_state. The trainer picks one at load (STEPS) and never branches
on the strategy; nothing here decides sizes or retries.

Gradient accumulation is defined on the logical batch: micro-batch loss = CE mean x (its examples /
logical_batch_size), so any split of a logical batch gives the same gradient up to rounding; the token head (NER)
averages over labelled tokens instead: CE mean over its labelled tokens x (their count / the logical batch's).
Each step object reads and updates the trainer it is given (model, optimizer, loss scaler and `partial`, the step
being accumulated).
"""
import os
import sys

import torch
import torch.nn.functional as F

from .checkpoint import gather_whole, shard_optimizer_state
from .device import autocast_for, is_oom, memory_stats
from .dist import FSDP_OOM, Replicas, Shards, collective_failure, log, shard
from .faults import injected_oom
from .protocol import E_BAD_COMMAND, E_DATASET, WorkerError
from .token_head import read_tags, token_loss


def micro_batch_seed(seed, step, first_index):
    """Dropout seed of one micro-batch, from (run seed, step, its first example index).

    Reproducible for a given batch plan (also after a restart); a re-split micro-batch draws different
    masks, so with dropout > 0 a recovered step is statistically, not bitwise, equal to a clean one.
    """
    return ((seed * 1_000_003 + step) * 1_000_033 + first_index) % (2 ** 63)


class _Step:
    """The interface the trainer calls, with what most strategies do, and the forward and backward they share."""

    sharded = False  # whether this process holds only a shard of the model (export and leader-only eval need it whole)

    def __init__(self, t):
        self.t = t

    # ---- the interface the trainer calls ----

    def micro_batch(self, cmd, i, dataset, inject):
        """Runs micro-batch `i` of the train_step `cmd` (`inject`: it raises the injected OOM after its forward) and
        adds it to the step (t.partial). Returns None, or the oom event's (i, message[, rank]) with the step as it
        was before this micro-batch."""
        raise NotImplementedError

    def zero_grad(self):
        """Gradients to zero: None, which frees them."""
        self.t.optimizer.zero_grad(set_to_none=True)

    def reduce(self, st):
        """The step's gradients and numbers over every rank: one process has them all already."""

    def memory(self):
        """The step's memory figures (`memory`, and `rank_memory` with several ranks)."""
        return {'memory': memory_stats(self.t.device)}

    def eval_logits(self, batches, dataset):
        """Every example of `batches`, in batch order, as lists: its logits, or the token head's [tags, scores] (see
        _logits); the model is already in eval mode."""
        with torch.inference_mode():  # like no_grad, minus autograd's version counters
            return [row for mb in batches for row in self._logits(mb, dataset)]

    def whole_states(self, checkpoint):
        """What a save writes instead of the live weights and optimizer state: (tensors, optimizer state), None for
        the live ones (every rank calls it; a collective with several ranks)."""
        return None, None

    def load_optimizer_state(self, saved):
        """Makes a saved (whole) optimizer state fit this process's optimizer, in place, before it is loaded."""

    # ---- shared by the strategies ----

    def _batch(self, mb, dataset):
        """The padded tensors of one micro-batch, after checking its length against the position table."""
        t = self.t
        if mb['seq_len'] > t.config['max_position_embeddings']:
            raise WorkerError(E_BAD_COMMAND, f'seq_len {mb["seq_len"]} exceeds max_position_embeddings '
                              f'{t.config["max_position_embeddings"]} of this model')
        if (t.head['kind'] == 'token') != (dataset.task == 'ner'):
            raise WorkerError(E_DATASET, f'{dataset.path}: the {t.head["kind"]} head reads '
                              + ('an NER dataset (task: ner)' if t.head['kind'] == 'token' else 'a relation dataset')
                              + f', not this {dataset.task or "relation"} one')
        return dataset.batch(mb['indices'], mb['seq_len'], t.pad_id, t.device)

    def _loss(self, forward, mb, dataset, inject, weight=1.0):
        """Forward of one micro-batch: (its mean cross-entropy, the examples it counts, its batch, whose `units` are
        what the mean is over: examples, or the token head's labelled tokens). `weight` 0: a stand-in that counts no
        example (it only keeps FSDP's collectives in step)."""
        t = self.t
        batch = self._batch(mb, dataset)
        low, high = batch['label_range']
        if low < 0 or high >= t.head['num_labels']:
            raise WorkerError(E_DATASET, f'{dataset.path}: labels must be in [0, {t.head["num_labels"]}) '
                              f'for training, got {low}..{high}')
        n = len(mb['indices']) if weight else 0
        batch['units'] = batch['units'] if n else 0
        torch.manual_seed(micro_batch_seed(t.seed, t.partial['step'], mb['indices'][0]))
        with autocast_for(t.device, t.precision), t.offload.saved_tensors():
            logits = forward(batch['input_ids'], batch['attention_mask'], batch['head_pos'], batch['tail_pos'],
                             batch['lengths'])
        if logits.dim() == 3:  # the token head: [b, n, num_labels], the mean over the labelled tokens
            ce = token_loss(logits, batch['labels'], batch['units'])
        else:
            ce = F.cross_entropy(logits.float(), batch['labels'])  # mean over this micro-batch
        if inject:
            raise injected_oom()
        return ce, n, batch

    def _share(self, batch, logical_batch_size):
        """The micro-batch's share of the logical batch, which its mean loss is scaled by: its examples /
        logical_batch_size, or (the token head) its labelled tokens / the logical batch's (counted at the step's
        start, t.partial['units_total'])."""
        total = self.t.partial['units_total']
        return batch['units'] / (logical_batch_size if total is None else max(total, 1))

    def _backward_aside(self, loss):
        """Backward of `loss` with the step's earlier gradients moved aside, so an OOM inside it cannot leave a
        half-added micro-batch in them (they come back as they were). Costs one extra gradient set at the end of
        backward, when the activations are already freed; the first micro-batch of a step costs nothing.
        Returns the gradients put aside, for _commit to add back. With optimizer offload the device keeps no
        gradient (each goes to the host in backward) and the host optimizer stages the micro-batch the same way."""
        t = self.t
        t.offload.micro_batch_started(t.optimizer)
        stash = {p: p.grad for p in t.trainable if p.grad is not None}
        for p in stash:
            p.grad = None
        try:
            t.scaler.scale(loss).backward()
        except Exception:
            for p in t.trainable:
                p.grad = stash.get(p)
            raise
        return stash

    def _commit(self, pending):
        """Keeps a finished micro-batch: its gradients added to the step's, its numbers to the step's."""
        if pending is None:
            return
        for p, g in (pending['stash'] or {}).items():
            p.grad = g if p.grad is None else g.add_(p.grad)
        self.t.offload.micro_batch_kept(self.t.optimizer)
        st = self.t.partial
        st['loss_sum'] += pending['loss']
        st['examples'] += pending['n']
        st['units'] += pending['units']
        st['tokens'] += pending['tokens']
        st['padded_tokens'] += pending['padded']

    def _logits(self, mb, dataset):
        """One row per example: its logits, or for the token head [tag ids, their softmax probabilities] at its
        positions to read (read_tags)."""
        t = self.t
        batch = self._batch(mb, dataset)
        with autocast_for(t.device, t.precision):
            logits = t.model(batch['input_ids'], batch['attention_mask'], batch['head_pos'], batch['tail_pos'],
                             batch['lengths'])
        if 'positions' in batch:
            return read_tags(logits, batch['positions'], batch['labels'])
        return logits.float().cpu().tolist()


def _pending(stash, ce, n, batch, mb):
    """A finished micro-batch before it is kept: the gradients put aside for it, its loss sum and its counts."""
    return {'stash': stash, 'loss': ce.detach() * batch['units'], 'n': n, 'units': batch['units'],
            'tokens': batch['tokens'] if n else 0, 'padded': n * mb['seq_len']}


class Single(_Step):
    """One process: each micro-batch's gradients are added to the step's once its backward finished, so an OOM in
    it leaves the step's gradients as they were and TS can re-split that micro-batch (`continue`)."""

    def __init__(self, t):
        super().__init__(t)
        t.model.to(t.device)

    def micro_batch(self, cmd, i, dataset, inject):
        """Micro-batch `i` whole on this process; an OOM in it returns (i, message)."""
        oom = None
        try:
            self._commit(self._forward_backward(cmd['micro_batches'][i], dataset, cmd['logical_batch_size'], inject))
        except Exception as e:  # the frame holding this micro-batch's tensors dies with `e`
            if not is_oom(e):
                raise
            oom = (i, str(e))
        return oom

    def _forward_backward(self, mb, dataset, logical_batch_size, inject):
        ce, n, batch = self._loss(self.t.model, mb, dataset, inject)
        return _pending(self._backward_aside(ce * self._share(batch, logical_batch_size)), ce, n, batch, mb)


class _Ranked(_Step):
    """What several ranks share: the step's numbers summed over them, and every rank's memory figures."""

    def reduce(self, st):
        """Each rank's loss was already scaled by its share of the logical batch, so the sum over the ranks is the
        single-process one."""
        t = self.t
        totals = torch.tensor([float(st['loss_sum']), st['examples'], st['tokens'], st['padded_tokens'],
                               st['units']], dtype=torch.float64)
        if t.ranks.backend == 'nccl':
            totals = totals.to(t.device)
        t.ranks.all_reduce_sum(totals)
        loss, examples, tokens, padded, units = totals.cpu().tolist()
        st['loss_sum'] = torch.tensor(loss)
        st['examples'], st['tokens'], st['padded_tokens'] = int(examples), int(tokens), int(padded)
        st['units'] = int(units)

    def memory(self):
        """Every rank's figures (`rank_memory`, in rank order), and as `memory` the one of the rank that peaked
        highest: that rank runs out first, so it is the one reports and plans read."""
        every = self.t.ranks.gather(memory_stats(self.t.device))
        peak = lambda m: m.get('max_memory_reserved', m.get('peak_rss_bytes')) or 0
        return {'memory': max(every, key=peak), 'rank_memory': every}


class Replicated(_Ranked):
    """ddp and zero1: the model inside DistributedDataParallel (dist.Replicas), every .grad a view into its buckets;
    t.model stays the bare model, so saves have no `module.` prefix and eval (rank 0 alone) runs it as is. Every
    micro-batch runs under `no_sync` and the ranks agree on how it went before it is kept; `reduce` first sums the
    gradients in one sync pass. zero1 differs only in its optimizer (ZeroRedundancyOptimizer, dist.zero1_optimizer)."""

    def __init__(self, t):
        super().__init__(t)
        t.model.to(t.device)
        self.replicas = Replicas(t.model, t.ranks, t.device)
        self.zero1 = t.strategy == 'zero1'

    def zero_grad(self):
        """Gradients to zero in place: they are bucket views."""
        self.replicas.zero()

    def micro_batch(self, cmd, i, dataset, inject):
        """This rank's share of micro-batch `i`, then every rank says how it went before anything is kept. If any
        rank ran out of memory, every rank puts back its gradients from before this micro-batch, so all drop the same
        micro-batch and TS re-splits it the same way for all (no rank waits in a collective that another left).
        Returns None, or (micro-batch index, message, rank) for the oom event; raises on an error."""
        t, step = self.t, cmd['step']
        mb = cmd['micro_batches'][i]
        mine = dict(mb, indices=shard(mb['indices'], t.ranks.rank, t.ranks.world))
        pending, status = None, ('ok', '', '')
        try:
            if mine['indices']:  # a share can be empty at the end of a batch: nothing to add then
                pending = self._forward_backward(mine, dataset, cmd['logical_batch_size'], inject)
        except Exception as e:  # noqa: BLE001 — every failure is agreed on, then raised or reported by all
            code = e.code if isinstance(e, WorkerError) else ('E_OOM' if is_oom(e) else 'E_INTERNAL')
            status = ('oom' if is_oom(e) else 'error', str(e) if is_oom(e) else (getattr(e, 'message', None) or
                      f'{type(e).__name__}: {(str(e).splitlines() or [""])[0]}'), code)
            if status[0] == 'error':
                log(f'rank {t.ranks.rank}: step {step} micro-batch {i}: {status[1]}')
            del e
        failed = t.ranks.agree(f'train_step {step}.{i}', status)
        if failed is None:
            self._commit(pending)
            return None
        self._rollback(pending)
        rank, kind, message, code = failed
        if kind == 'error':
            raise WorkerError(code if code != 'E_INTERNAL' else E_BAD_COMMAND, f'rank {rank}: {message}')
        return (i, message, rank)

    def _forward_backward(self, mb, dataset, logical_batch_size, inject):
        """This rank's gradients only, under DDP's no_sync; the sync pass in `reduce` sums them."""
        with self.replicas.local():
            ce, n, batch = self._loss(self.replicas.forward, mb, dataset, inject)
            loss = ce * self._share(batch, logical_batch_size)
            if self.t.partial['examples'] > 0:
                return _pending(self._backward_aside(loss), ce, n, batch, mb)
            # Nothing kept yet in this step: backward adds straight into the zeroed bucket views (no second gradient
            # set); undoing this micro-batch is zeroing them again.
            try:
                self.t.scaler.scale(loss).backward()
            except Exception:
                self.replicas.zero()
                raise
            return _pending(None, ce, n, batch, mb)

    def _rollback(self, pending):
        """Drops a finished micro-batch that another rank could not finish: the gradients from before it come back."""
        if pending is None:
            return
        if pending['stash'] is None:  # the first micro-batch of the step went straight into the bucket views
            self.replicas.zero()
            return
        for p in self.t.trainable:
            p.grad = pending['stash'].get(p)

    def reduce(self, st):
        """The sync pass sums every rank's gradients (a rank whose shares were all empty sends its zeros), then the
        step's numbers are summed."""
        self.replicas.sync()
        super().reduce(st)

    def whole_states(self, checkpoint):
        """zero1: the optimizer shards gathered on rank 0 (a collective), whose state_dict is then a whole one."""
        if checkpoint and self.zero1:
            try:
                self.t.optimizer.consolidate_state_dict(to=0)
            except RuntimeError as e:
                raise collective_failure(e, self.t.ranks) from e
        return None, None


class Sharded(_Ranked):
    """fsdp: the model sharded in place by FSDP2 (dist.Shards), its parameters DTensors gathered whole only to save.
    FSDP gathers the weights inside every forward, so every rank runs every forward and eval too; an OOM cannot be
    agreed on (the other ranks already wait in FSDP's next collective), so the rank that runs out exits."""

    sharded = True

    def __init__(self, t):  # the model stays on the host: fully_shard moves each unit's shard to the device
        super().__init__(t)
        if t.precision == 'fp16':
            raise WorkerError(E_BAD_COMMAND, 'distributed.strategy fsdp trains in bf16 or fp32 (fp16 would need '
                              "FSDP's sharded loss scaler): set memory.precision=bf16, or fp32 on a card "
                              'without bf16')
        self.shards = Shards(t.model, t.ranks, t.device)

    def micro_batch(self, cmd, i, dataset, inject):
        """This rank's share of micro-batch `i` (an empty share runs one example with weight 0), reduce-scattered
        with the last of the step. Returns None; on an OOM this rank says so in one line and exits, and TS restarts
        the run from its last checkpoint with a smaller micro-batch."""
        t, mb = self.t, cmd['micro_batches'][i]
        self.shards.gradient_sync(i == len(cmd['micro_batches']) - 1)
        mine = shard(mb['indices'], t.ranks.rank, t.ranks.world)
        weight = 1.0 if mine else 0.0
        try:
            part = dict(mb, indices=mine or mb['indices'][:1])
            ce, n, batch = self._loss(t.model, part, dataset, inject, weight)
            # FSDP averages the reduce-scattered gradients over the ranks: x world makes that the sum DDP's hook takes.
            # Nothing to put aside: FSDP accumulates unsharded gradients itself.
            t.scaler.scale(ce * (self._share(batch, cmd['logical_batch_size']) * t.ranks.world)).backward()
            pending = _pending(None, ce, n, batch, part)
        except Exception as e:  # noqa: BLE001
            if not is_oom(e):
                raise
            log(f'rank {t.ranks.rank}: {FSDP_OOM} at step {cmd["step"]}, micro-batch {i}: '
                f'{(str(e).splitlines() or [""])[0][:300]}')
            sys.stderr.flush()
            os._exit(3)
        self._commit(pending)
        return None

    def eval_logits(self, batches, dataset):
        """Every rank runs every batch's forward on its share of the examples (an empty share runs one, then drops
        it); the shares are gathered back into batch order."""
        ranks = self.t.ranks
        out = []
        with torch.no_grad():
            for mb in batches:
                mine = shard(mb['indices'], ranks.rank, ranks.world)
                rows = self._logits(dict(mb, indices=mine or mb['indices'][:1]), dataset)
                parts = ranks.gather(rows if mine else [])
                merged = [None] * len(mb['indices'])
                for r, part in enumerate(parts):
                    merged[r::ranks.world] = part
                out.extend(merged)
        return out

    def whole_states(self, checkpoint):
        """Every rank gathers the whole weights (and optimizer states) with the others; rank 0 keeps them."""
        t = self.t
        return gather_whole(t.model, t.optimizer if checkpoint else None, t.ranks.leader)

    def load_optimizer_state(self, saved):
        """The whole saved optimizer state sharded like each parameter (a collective)."""
        shard_optimizer_state(self.t.optimizer, saved)


# The step object of each strategy (None: one process, no group).
STEPS = {None: Single, 'ddp': Replicated, 'zero1': Replicated, 'fsdp': Sharded}
