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
# DDP's gradient buckets: about this size each (DDP's default bucket_cap_mb).
BUCKET_BYTES = 25 * 1024 * 1024
STRATEGIES = ('ddp', 'zero1', 'fsdp')


def log(message):
    """One line to stderr (TS pipes it into the run log)."""
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
    """This process's place in the group: rank, world size, local rank (`active` false: no group at all)."""

    def __init__(self, env=None):
        env = os.environ if env is None else env
        self.world = int(env.get('WORLD_SIZE') or 1)
        self.rank = int(env.get('RANK') or 0)
        self.local_rank = int(env.get('LOCAL_RANK') or 0)
        self.backend_asked = env.get('REFIT_DIST_BACKEND')
        self.backend = None
        self.timeout_s = int(env.get('REFIT_DIST_TIMEOUT_S') or DEFAULT_TIMEOUT_S)
        self.cpu_group = None

    @property
    def active(self):
        """In a group: several ranks, or one that refit started as a rank (a strategy asked for on one process)."""
        return self.world > 1 or bool(self.backend_asked)

    @property
    def leader(self):
        return self.rank == 0

    def init(self):
        """Joins the env:// group (MASTER_ADDR/MASTER_PORT/RANK/WORLD_SIZE, as torchrun and Slurm set them)."""
        if not self.active:
            return
        import torch.distributed as dist
        backend = self.backend_asked or 'auto'
        if backend == 'auto':
            backend = 'nccl' if torch.cuda.is_available() else 'gloo'
        if backend == 'nccl':
            torch.cuda.set_device(self.local_rank)
        join = lambda: dist.init_process_group(backend, init_method='env://', world_size=self.world, rank=self.rank,
                                               timeout=datetime.timedelta(seconds=self.timeout_s))
        try:
            join()
        except RuntimeError as e:
            # torch 2.4+ asks for the libuv TCPStore by default, which builds without libuv (Debian's torch 2.6)
            # refuse; the classic store speaks the same protocol to the other ranks.
            if 'libuv' not in str(e) or os.environ.get('USE_LIBUV') == '0':
                raise
            os.environ['USE_LIBUV'] = '0'
            join()
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

    def all_reduce_sum(self, tensor):
        """Sums one tensor over the ranks, in place."""
        import torch.distributed as dist
        self._collective(lambda: dist.all_reduce(tensor))

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
    if strategy == 'fsdp' and fully_shard_available() is None:
        raise WorkerError(E_DEVICE, f'distributed.strategy fsdp needs FSDP2 fully_shard (torch 2.4+); this torch is '
                          f'{torch.__version__}: use ddp or zero1')
    if strategy not in STRATEGIES:
        raise WorkerError(E_BAD_COMMAND, f'strategy {strategy!r}: expected one of {", ".join(STRATEGIES)}')


class _Replica(torch.nn.Module):
    """What DistributedDataParallel wraps: the model's own forward, plus the sync pass (`sync=True`), a zero that
    depends on every trainable parameter. Its backward adds nothing to the gradients (d(0·Σp)/dp is an expanded zero,
    no allocation) but runs DDP's reducer over all of them: every bucket all-reduced, in place."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, *inputs, sync=False):
        if sync:
            return sum(p.sum() for p in self.model.parameters() if p.requires_grad) * 0.0
        return self.model(*inputs)


def _sum_hook(state, bucket):
    """DDP communication hook: sums a bucket over the ranks (DDP's default averages). Each rank's loss is already
    scaled by its share of the logical batch, so the sum is the single-process gradient, whatever the shares."""
    import torch.distributed as dist
    return dist.all_reduce(bucket.buffer(), async_op=True).get_future().then(lambda fut: fut.value()[0])


class Replicas:
    """The model inside torch's DistributedDataParallel (design §8): DDP's constructor brings rank 0's weights and
    buffers to every rank; with gradient_as_bucket_view every .grad is a view into DDP's buckets (no second
    gradient set), all-reduced in place by the sum hook above.

    When DDP syncs: every real micro-batch runs under `no_sync` (local, as DDP's gradient accumulation does), and
    the step ends with one sync pass (`sync()`) once every rank has said its micro-batches went well. DDP's usual
    pattern syncs inside the last micro-batch's backward instead; an OOM there on one rank would leave the others
    waiting in that all-reduce, and the micro-batch could no longer be dropped and re-split on all ranks alike
    (steps.Replicated.micro_batch). The price is that no all-reduce overlaps a backward.
    """

    def __init__(self, model, ranks, device):
        from torch.nn.parallel import DistributedDataParallel
        self.ranks = ranks
        self.model = model
        self.params = [p for p in model.parameters() if p.requires_grad]
        try:
            self.ddp = DistributedDataParallel(
                _Replica(model), device_ids=[device.index] if device.type == 'cuda' else None,
                broadcast_buffers=False, gradient_as_bucket_view=True, bucket_cap_mb=BUCKET_BYTES / 2 ** 20)
        except RuntimeError as e:
            raise collective_failure(e, ranks) from e
        self.ddp.register_comm_hook(None, _sum_hook)

    def local(self):
        """The context of one micro-batch: forward and backward without DDP's all-reduce."""
        return self.ddp.no_sync()

    def forward(self, *inputs):
        return self.ddp(*inputs)

    def sync(self):
        """Sums every rank's gradients of this step, in place (the sync pass)."""
        self.ranks._collective(lambda: self.ddp(sync=True).backward())

    def zero(self):
        """Gradients to zero in place: they are DDP's bucket views (None only before the first sync pass)."""
        for p in self.params:
            if p.grad is not None:
                p.grad.zero_()


# The line a rank prints when it runs out of memory under fsdp, before it exits (TS restarts the run smaller).
FSDP_OOM = 'out of memory under fsdp'


def full_tensor(t):
    """A DTensor's whole value (a collective: every rank calls it in the same order); a plain tensor as is."""
    return t.full_tensor() if hasattr(t, 'full_tensor') else t


def distribute_like(value, param):
    """`value` (the whole tensor, the same on every rank) sharded as the DTensor `param` is (a collective)."""
    try:
        from torch.distributed.tensor import distribute_tensor
    except ImportError:  # torch 2.4-2.5
        from torch.distributed._tensor import distribute_tensor
    return distribute_tensor(value.to(param.device, param.dtype), param.device_mesh, param.placements)


def sharded_step(device):
    """One forward and backward of a fully_shard-ed Linear on `device`, in the current group: raises where FSDP2
    cannot train there."""
    probe = torch.nn.Linear(2, 2).to(device)
    fully_shard_available()(probe)
    probe(torch.zeros(1, 2, device=device)).sum().backward()


def fsdp_unsupported(device_type):
    """Why distributed.strategy fsdp cannot train on `device_type` with this torch ('torch X (why)'), or None.
    On CPU, sharded_step in a group of one over gloo (a file:// store); on CUDA only whether FSDP2 exists."""
    if fully_shard_available() is None:
        return f'torch {torch.__version__} (no FSDP2)'
    if device_type != 'cpu':
        return None
    import shutil
    import tempfile
    import torch.distributed as dist
    os.environ.setdefault('USE_LIBUV', '0')
    folder = tempfile.mkdtemp(prefix='refit-fsdp-probe-')
    dist.init_process_group('gloo', init_method='file://' + os.path.join(folder, 'store'), rank=0, world_size=1)
    try:
        sharded_step(torch.device('cpu'))
        return None
    except Exception as e:  # noqa: BLE001 — any failure means no fsdp here; its kind is the answer
        return f'torch {torch.__version__} ({type(e).__name__})'
    finally:
        dist.destroy_process_group()
        shutil.rmtree(folder, ignore_errors=True)


class Shards:
    """FSDP2 (design §8): `fully_shard` on every encoder layer, then on the whole model (embeddings, pooler, head),
    so each rank keeps 1/world of the weights, gradients and optimizer states and gathers one layer at a time.

    Unlike ddp and zero1, FSDP gathers weights and reduces gradients inside forward and backward, so the ranks
    cannot drop one micro-batch together when one of them runs out of memory: that rank prints FSDP_OOM and exits,
    every rank stops, and TS restarts the run from its last checkpoint with the next memory lever (the same steps,
    replayed). Gradient accumulation turns the reduce-scatter off on all but the last micro-batch of a step.
    """

    def __init__(self, model, ranks, device):
        fully_shard = fully_shard_available()
        self.model = model
        self.ranks = ranks
        try:
            from torch.distributed.device_mesh import init_device_mesh
            # The model arrives whole on the host; fully_shard moves each unit to the mesh's device as it shards it,
            # so the device never holds more than one whole unit (a model too large for one card still loads).
            mesh = init_device_mesh(device.type, (ranks.world,))
            for layer in model.bert.encoder.layer:
                fully_shard(layer, mesh=mesh)
            fully_shard(model, mesh=mesh)
            if device.type == 'cpu':
                self._probe(device)
        except WorkerError:
            raise
        except RuntimeError as e:
            raise collective_failure(e, ranks) from e
        states = list(model.named_parameters()) + list(model.named_buffers())
        stray = [n for n, t in states if t.device.type != device.type]
        if stray:
            raise WorkerError(E_DEVICE, f'distributed.strategy fsdp: {stray[0]} stayed on {device.type!r} after '
                              f'fully_shard (torch {torch.__version__}); use ddp or zero1')

    def _probe(self, device):
        """FSDP2 on CPU (gloo) needs a newer torch than FSDP2 itself (torch 2.6 fails in its stream events): one tiny
        sharded forward says so in one line before any training starts."""
        try:
            sharded_step(device)
        except (AttributeError, NotImplementedError) as e:
            raise WorkerError(E_DEVICE, f'distributed.strategy fsdp: FSDP2 does not run on CPU with torch '
                              f'{torch.__version__} ({type(e).__name__}: {str(e)[:120]}); use ddp or zero1, '
                              f'or fsdp on CUDA') from e

    def gradient_sync(self, on):
        """Whether this micro-batch's backward reduce-scatters (the last of the step) or accumulates locally."""
        self.model.set_requires_gradient_sync(on)


def zero1_optimizer(groups, optimizer_class, **defaults):
    """ZeroRedundancyOptimizer over the same parameter groups: each rank keeps the optimizer states of its shard
    (its state_dict, after consolidate_state_dict, is a plain optimizer state dict: resumable on any world size)."""
    from torch.distributed.optim import ZeroRedundancyOptimizer

    class Zero1(ZeroRedundancyOptimizer):
        def load_state_dict(self, state_dict):
            super().load_state_dict(state_dict)
            # torch's Optimizer.load_state_dict also left this rank's states in the wrapper's own `state`, cast to the
            # parameters' dtype (8-bit AdamW's uint8 codes as fp32): a stale second copy that state_dict() overwrites
            # from the local optimizer's live states anyway
            self.state.clear()

    return Zero1(groups, optimizer_class=optimizer_class, **defaults)


class RankLostError(Exception):
    """A collective failed: another rank died, hung past the timeout or the group broke. The worker exits on it."""


def collective_failure(e, ranks):
    """The one line for a failed collective (gloo/NCCL say 'Connection closed by peer', 'Timed out', …)."""
    first = (str(e).splitlines() or [''])[0][:300]
    if 'timed out' in first.lower() or 'timeout' in first.lower():
        return RankLostError(f'rank {ranks.rank}: a collective timed out after {ranks.timeout_s} s waiting for the other '
                             f'ranks (a rank hung; REFIT_DIST_TIMEOUT_S sets the limit): {first}')
    return RankLostError(f'rank {ranks.rank}: lost the other ranks during a collective (a rank died?): {first}')


if __name__ == '__main__':
    # python -m refit_worker.dist fsdp-probe cpu|cuda: 'ok', or why fsdp cannot train there (src/worker/python.ts).
    if sys.argv[1:2] == ['fsdp-probe']:
        print(fsdp_unsupported(sys.argv[2] if len(sys.argv) > 2 else 'cpu') or 'ok')
