"""Several ranks with torch.distributed (design §8): the env:// process group, the command broadcast, each rank's
share of a micro-batch, the agreement every rank reaches after each micro-batch, and the gradient all-reduce.

Nothing here decides sizes or retries: rank 0 receives the TS commands and every other rank executes the same ones.
FSDP is only feature-detected (never imported at module load: torch 1.13's FSDP module fails under Python 3.11).
"""
import datetime
import os
import sys

import torch

from .protocol import E_BAD_COMMAND, E_DEVICE, WorkerError

# How long a collective may wait for the other ranks before it fails (a hung or lost rank): REFIT_DIST_TIMEOUT_S.
DEFAULT_TIMEOUT_S = 1800
# Gradients are all-reduced in flat buckets of about this size (DDP's default bucket_cap_mb).
BUCKET_BYTES = 25 * 1024 * 1024
STRATEGIES = ('ddp', 'zero1', 'fsdp')


def log(message):
    print(f'refit_worker: {message}', file=sys.stderr, flush=True)


def fully_shard_available():
    """FSDP2's `fully_shard` (torch 2.4+: torch.distributed.fsdp.fully_shard, earlier torch.distributed._composable.fsdp)."""
    for name in ('torch.distributed.fsdp', 'torch.distributed._composable.fsdp'):
        try:
            module = __import__(name, fromlist=['fully_shard'])
        except Exception:  # torch 1.13 + Python 3.11: the fsdp package itself fails to import
            continue
        if hasattr(module, 'fully_shard'):
            return module.fully_shard
    return None


class Ranks:
    """This process's place in the group: rank, world size, local rank; `world == 1` means no group at all."""

    def __init__(self, env=None):
        env = os.environ if env is None else env
        self.world = int(env.get('WORLD_SIZE') or 1)
        self.rank = int(env.get('RANK') or 0)
        self.local_rank = int(env.get('LOCAL_RANK') or 0)
        self.backend = None
        self.timeout_s = int(env.get('REFIT_DIST_TIMEOUT_S') or DEFAULT_TIMEOUT_S)
        self.cpu_group = None

    @property
    def active(self):
        return self.world > 1

    @property
    def leader(self):
        return self.rank == 0

    def init(self):
        """Joins the env:// group (MASTER_ADDR/MASTER_PORT/RANK/WORLD_SIZE, as torchrun and Slurm set them)."""
        if not self.active:
            return
        import torch.distributed as dist
        backend = os.environ.get('REFIT_DIST_BACKEND') or 'auto'
        if backend == 'auto':
            backend = 'nccl' if torch.cuda.is_available() else 'gloo'
        if backend == 'nccl':
            torch.cuda.set_device(self.local_rank)
        dist.init_process_group(backend, init_method='env://', world_size=self.world, rank=self.rank,
                                timeout=datetime.timedelta(seconds=self.timeout_s))
        self.backend = backend
        # Object collectives (commands, agreements) always go through gloo on the host: NCCL would need a
        # device round trip for each and cannot carry Python objects on torch 1.13.
        self.cpu_group = dist.new_group(backend='gloo') if backend == 'nccl' else None
        log(f'rank {self.rank} of {self.world} (local rank {self.local_rank}) joined the {backend} group')

    def device_for(self, text):
        """The device a rank trains on: `cuda` / `cuda:N` become this rank's local GPU."""
        if self.active and text.startswith('cuda'):
            return f'cuda:{self.local_rank}'
        return text

    # ---- collectives ----

    def _collective(self, call):
        """Runs one collective; a broken group (peer gone, timeout) becomes RankLostError with one clear line."""
        try:
            return call()
        except RankLostError:
            raise
        except RuntimeError as e:
            raise collective_failure(e, self) from e

    def broadcast_command(self, line):
        """Rank 0 sends `line` (a command, or None at EOF) to every rank; the others receive it."""
        import torch.distributed as dist
        box = [line if self.leader else None]
        self._collective(lambda: dist.broadcast_object_list(box, src=0, group=self.cpu_group))
        return box[0]

    def gather(self, item):
        """Every rank's `item`, in rank order, on every rank."""
        import torch.distributed as dist
        out = [None] * self.world
        self._collective(lambda: dist.all_gather_object(out, item, group=self.cpu_group))
        return out

    def agree(self, tag, status):
        """After each micro-batch (and each command) every rank says how it went: (tag, 'ok'|'oom'|'error', message,
        code). Returns the first rank's failure as (rank, kind, message, code), or None when all went well. A rank
        at another tag means the ranks ran different commands: that is an error, never a silent mismatch."""
        statuses = self.gather((tag,) + tuple(status))
        tags = {s[0] for s in statuses}
        if len(tags) > 1:
            raise WorkerError(E_BAD_COMMAND, f'ranks out of step: {", ".join(f"rank {r} at {s[0]}" for r, s in enumerate(statuses))}')
        for kind in ('error', 'oom'):  # an error outranks an OOM: smaller micro-batches cannot fix it
            for r, s in enumerate(statuses):
                if s[1] == kind:
                    return r, s[1], s[2], s[3]
        return None

    def all_reduce_sum(self, tensors):
        """Sums each tensor over the ranks in place, in flat buckets of BUCKET_BYTES (fewer, larger messages)."""
        import torch.distributed as dist
        from torch._utils import _flatten_dense_tensors, _unflatten_dense_tensors
        bucket, size = [], 0
        buckets = []
        for t in tensors:
            if bucket and (size + t.numel() * t.element_size() > BUCKET_BYTES or t.dtype != bucket[0].dtype
                           or t.device != bucket[0].device):
                buckets.append(bucket)
                bucket, size = [], 0
            bucket.append(t)
            size += t.numel() * t.element_size()
        if bucket:
            buckets.append(bucket)
        for b in buckets:
            flat = _flatten_dense_tensors(b)
            self._collective(lambda: dist.all_reduce(flat))
            for t, reduced in zip(b, _unflatten_dense_tensors(flat, b)):
                t.copy_(reduced)

    def shutdown(self):
        if self.active:
            import torch.distributed as dist
            try:
                dist.destroy_process_group()
            except Exception:  # a peer already gone: nothing left to tear down cleanly
                pass


def shard(indices, rank, world):
    """This rank's examples of one micro-batch: every world-th from its rank (indices[rank::world]).

    Interleaving keeps the shares within one example of each other and, with length-sorted buckets, of similar
    lengths. The loss of each share is scaled by (its examples / logical batch), so the summed gradient over the
    ranks equals the single-process one whatever the shares are.
    """
    return list(indices[rank::world])


def check_strategy(ranks, strategy):
    """ddp and zero1 run everywhere; fsdp needs FSDP2's fully_shard, refused elsewhere in one line naming the torch."""
    if not ranks.active:
        return
    if strategy == 'fsdp':
        if fully_shard_available() is None:
            raise WorkerError(E_DEVICE, f'distributed.strategy fsdp needs FSDP2 fully_shard (torch 2.4+); this torch is '
                              f'{torch.__version__}: use ddp or zero1')
        raise WorkerError(E_DEVICE, 'distributed.strategy fsdp: not implemented in this worker yet; use ddp or zero1')
    if strategy not in STRATEGIES:
        raise WorkerError(E_BAD_COMMAND, f'strategy {strategy!r}: expected one of {", ".join(STRATEGIES)}')


def broadcast_states(model, ranks):
    """Rank 0's weights and buffers on every rank before the first step (what DDP's constructor does)."""
    import torch.distributed as dist
    for t in list(model.state_dict().values()):
        ranks._collective(lambda t=t: dist.broadcast(t, src=0))


class GradBuckets:
    """DDP's gradient layout without its reducer: every trainable parameter's .grad is a view into a flat bucket of
    about BUCKET_BYTES (reverse parameter order, roughly the order backward produces them), so the step's all-reduce runs
    in place, one message per bucket, with no copy of the gradients.

    Why not torch's DistributedDataParallel: its reducer all-reduces buckets inside the last micro-batch's backward.
    An OOM there on one rank leaves the others waiting in that all-reduce, and the step can no longer be re-split
    losslessly; and since refit keeps every micro-batch local until all ranks agree (Trainer._agreed_micro_batch),
    DDP's own buckets would be a second, unused set of gradients (one model's worth of memory per rank).
    """

    def __init__(self, params, ranks):
        self.ranks = ranks
        self.params = [p for p in params if p.requires_grad]
        self.flats = []
        group, size = [], 0
        for p in reversed(self.params):
            nbytes = p.numel() * p.element_size()
            if group and (size + nbytes > BUCKET_BYTES or p.dtype != group[0].dtype or p.device != group[0].device):
                self._bucket(group)
                group, size = [], 0
            group.append(p)
            size += nbytes
        if group:
            self._bucket(group)

    def _bucket(self, group):
        flat = torch.zeros(sum(p.numel() for p in group), dtype=group[0].dtype, device=group[0].device)
        offset = 0
        for p in group:
            p.grad = flat[offset:offset + p.numel()].view_as(p)  # a view: autograd and the optimizer see a normal .grad
            offset += p.numel()
        self.flats.append((flat, group))

    def zero(self):
        """Zeroes every bucket in place and points each .grad back at its view (a step may have set one to None)."""
        for flat, group in self.flats:
            flat.zero_()
            offset = 0
            for p in group:
                view = flat[offset:offset + p.numel()].view_as(p)
                if p.grad is None or p.grad.data_ptr() != view.data_ptr():
                    p.grad = view
                offset += p.numel()

    def all_reduce(self):
        """Sums every bucket over the ranks, in place."""
        import torch.distributed as dist
        for flat, _ in self.flats:
            self.ranks._collective(lambda flat=flat: dist.all_reduce(flat))


def zero1_optimizer(groups, optimizer_class, **defaults):
    """ZeroRedundancyOptimizer over the same parameter groups: each rank keeps the optimizer states of its shard
    (its state_dict, after consolidate_state_dict, is a plain optimizer state dict: resumable on any world size)."""
    from torch.distributed.optim import ZeroRedundancyOptimizer
    return ZeroRedundancyOptimizer(groups, optimizer_class=optimizer_class, **defaults)


class RankLostError(Exception):
    """A collective failed: another rank died, hung past the timeout or the group broke. The worker exits on it."""


def collective_failure(e, ranks):
    """The one line for a failed collective (gloo/NCCL say 'Connection closed by peer', 'Timed out', …)."""
    first = (str(e).splitlines() or [''])[0][:300]
    if 'timed out' in first.lower() or 'timeout' in first.lower():
        return RankLostError(f'rank {ranks.rank}: a collective timed out after {ranks.timeout_s} s waiting for the other '
                             f'ranks (a rank hung; REFIT_DIST_TIMEOUT_S sets the limit): {first}')
    return RankLostError(f'rank {ranks.rank}: lost the other ranks during a collective (a rank died?): {first}')
