"""memory.offload: what a training run keeps in host memory instead of on the device, as the `load` command says.

optimizer (and all): the optimizer optim.py builds, whatever its kind, is built over an fp32 copy of the trainable
parameters in host memory and keeps its states there (HostOptimizer). Each gradient moves to the host as backward
produces it and is freed on the device (grad_stream.py: staged per micro-batch, so an OOM can still drop one
micro-batch and keep the others, steps.py). At the step the host unscales (fp16) and clips the gradients, steps in
chunks and copies each chunk's parameters back.
activations (and all): every tensor autograd saves in a forward is kept in host memory and brought back in backward
(torch.autograd.graph.save_on_cpu), and each checkpointed layer's input too (checkpoint_input).

On CUDA the host buffers are pinned: the gradients' copies run on a side stream during backward, overlapped with its
compute, and the parameters' copies back are non-blocking on the compute stream, each chunk's overlapping the host
step of the next and all queued before the next forward's kernels. On CPU the same code runs with plain copies, so
its numerics are tested there.
"""
import contextlib

import torch

from .grad_stream import GradStream
from .protocol import E_BAD_COMMAND, LEVER_VALUES, WorkerError


class Offload:
    """The run's offload mode and what it does: the saved-tensor hooks of a forward and the optimizer it wraps."""

    def __init__(self, mode, device, ranks_active=False):
        if mode not in LEVER_VALUES['offload']:
            raise WorkerError(E_BAD_COMMAND, f'offload {mode!r}: expected ' + ', '.join(LEVER_VALUES['offload']))
        if mode != 'none' and ranks_active:
            raise WorkerError(E_BAD_COMMAND, f'memory.offload={mode} runs in one process; use memory.offload=none '
                              'with distributed training')
        self.mode = mode
        self.device = device
        self.pin = device.type == 'cuda'
        self.optimizer_on_host = mode in ('optimizer', 'all')
        self.activations_on_host = mode in ('activations', 'all')

    def configure(self, model):
        """The encoder keeps each checkpointed layer's input in host memory (activations)."""
        encoder = getattr(getattr(model, 'bert', None), 'encoder', None)
        if encoder is not None:
            encoder.checkpoint_input = checkpoint_input if self.activations_on_host else None

    def saved_tensors(self):
        """The context of a training forward: saved tensors go to host memory (activations), else nothing."""
        if not self.activations_on_host:
            return contextlib.nullcontext()
        return torch.autograd.graph.save_on_cpu(pin_memory=self.pin)

    def optimizer(self, model, build):
        """`build(model_like, device)` (optim.build_optimizer) over the model, or over its host copy (optimizer)."""
        if not self.optimizer_on_host:
            return build(model, self.device)
        return HostOptimizer(model, build, self.device)

    @staticmethod
    def scheduled(optimizer):
        """The optimizer a learning-rate scheduler drives: the host one inside a HostOptimizer."""
        return getattr(optimizer, 'inner', optimizer)

    @staticmethod
    def micro_batch_started(optimizer):
        """Before a micro-batch's backward (steps.py): the host optimizer forgets what a failed one sent."""
        if isinstance(optimizer, HostOptimizer):
            optimizer.micro_batch_started()

    @staticmethod
    def micro_batch_kept(optimizer):
        """A micro-batch completed and is kept (steps.py): its gradients in host memory join the step's."""
        if isinstance(optimizer, HostOptimizer):
            optimizer.micro_batch_kept()

    @staticmethod
    def weights_loaded(optimizer):
        """After the device weights were replaced (a restore), the host copy follows them."""
        if isinstance(optimizer, HostOptimizer):
            optimizer.copy_from_device()


class _ToHost(torch.autograd.Function):
    """A copy in host memory (pinned on CUDA) whose gradient goes back to the device it came from."""

    @staticmethod
    def forward(ctx, x):
        ctx.device = x.device
        host = torch.empty(x.shape, dtype=x.dtype, pin_memory=x.device.type == 'cuda')
        host.copy_(x, non_blocking=True)  # the compute stream orders the copy back after it
        return host

    @staticmethod
    def backward(ctx, grad):
        return grad.to(ctx.device, non_blocking=True)


def checkpoint_input(run, layer, x, *args):
    """`run(layer, x, *args)` (a checkpoint) with the input it keeps for the recomputation in host memory: the layer
    gets it back on its device when it runs, in the forward and in the recomputation."""
    device = x.device
    return run(lambda h, *a: layer(h.to(device, non_blocking=True), *a), _ToHost.apply(x), *args)


class _HostParams:
    """The named trainable parameters build_optimizer reads (`named_parameters`), as their host copies."""

    def __init__(self, named):
        self.named = named

    def named_parameters(self):
        return iter(self.named)


class HostOptimizer:
    """An optimizer over host copies of the trainable parameters, with the interface the trainer, steps.py and
    checkpoint.py use: param_groups (the device parameters with the host optimizer's settings), zero_grad, the
    micro-batch hooks (micro_batch_started, micro_batch_kept), step_on_host (unscale, clip, step), state_dict and
    load_state_dict (the host optimizer's: the same layout as the optimizer on the device, so a checkpoint resumes
    with or without offload). The gradients reach the host during backward (grad_stream.GradStream)."""

    def __init__(self, model, build, device):
        self.pin = device.type == 'cuda'
        self.device_params, named = [], []
        for name, p in model.named_parameters():
            if not p.requires_grad:
                continue
            host = torch.empty(p.shape, dtype=torch.float32, pin_memory=self.pin)
            host.copy_(p.detach())
            host.requires_grad_(True)
            self.device_params.append(p)
            named.append((name, host))
        self.host_params = [h for _, h in named]
        self.inner = build(_HostParams(named), torch.device('cpu'))
        device_of = {id(h): p for p, h in zip(self.device_params, self.host_params)}
        self._device_groups = [[device_of[id(h)] for h in g['params']] for g in self.inner.param_groups]
        self.stream = GradStream(self.device_params, device)
        self.chunks = _chunks(self.host_params)

    @property
    def param_groups(self):
        """The host optimizer's groups with the device parameters in them (the trainer reads the lr there)."""
        return [dict(g, params=ps) for g, ps in zip(self.inner.param_groups, self._device_groups)]

    @property
    def state(self):
        return self.inner.state

    def zero_grad(self, set_to_none=True):
        self.stream.zero()
        for p, h in zip(self.device_params, self.host_params):
            p.grad = None
            h.grad = None

    def micro_batch_started(self):
        """A micro-batch's backward is about to run (what a failed one sent is dropped)."""
        self.stream.begin()

    def micro_batch_kept(self):
        """The micro-batch completed and is kept: its gradients join the step's."""
        self.stream.commit()

    def step_on_host(self, scaler, max_norm):
        """The step over the gradients in host memory: unscaled and checked for inf/nan (fp16; the scaler is told),
        clipped to `max_norm` by their norm, then the host step and the parameters back. Returns the norm."""
        grads = self.stream.grads()
        with torch.no_grad():
            found_inf = _unscale(grads, scaler) if scaler.is_enabled() else False
            for h, g in zip(self.host_params, grads):
                h.grad = g
            norm = float(torch.nn.utils.clip_grad_norm_([h for h in self.host_params if h.grad is not None],
                                                        max_norm))
            if not found_inf:
                self._step(grads)
        if scaler.is_enabled():
            _tell_scaler(scaler, self, found_inf)
        return norm

    def step(self, closure=None):
        """A step without scaling or clipping."""
        self.step_on_host(_NO_SCALER, float('inf'))

    def _step(self, grads):
        """The host step in chunks of parameters, each chunk's parameters copied back as soon as it is stepped: on
        CUDA the copies are non-blocking from pinned memory on the compute stream (queued before the next forward's
        kernels), so a chunk's copy back overlaps the host step of the next."""
        for chunk in self.chunks:
            stepped = {i for i in chunk if grads[i] is not None}
            if not stepped:
                continue
            for i, h in enumerate(self.host_params):  # the inner optimizer steps the parameters with a gradient
                h.grad = grads[i] if i in stepped else None
            self.inner.step()
            for i in stepped:
                self.device_params[i].copy_(self.host_params[i], non_blocking=self.pin)
        for h, g in zip(self.host_params, grads):
            h.grad = g

    def copy_from_device(self):
        """The host copy of the parameters set from the device's (after a restore replaced them)."""
        with torch.no_grad():
            for p, h in zip(self.device_params, self.host_params):
                h.copy_(p.detach())

    def state_dict(self):
        return self.inner.state_dict()

    def load_state_dict(self, state):
        self.inner.load_state_dict(state)
        self.copy_from_device()


# Host bytes of parameters stepped together: one inner step a chunk (each step call walks every parameter), small
# enough that a chunk's copy back overlaps the next chunk's step.
CHUNK_BYTES = 32 * 2 ** 20


def _chunks(params):
    """Consecutive parameter indices in chunks of about CHUNK_BYTES (a larger parameter alone)."""
    chunks, size = [[]], 0
    for i, p in enumerate(params):
        if chunks[-1] and size + p.numel() * 4 > CHUNK_BYTES:
            chunks.append([])
            size = 0
        chunks[-1].append(i)
        size += p.numel() * 4
    return [c for c in chunks if c]


def _unscale(grads, scaler):
    """The scaled fp16 gradients divided by the loss scale in place (the reciprocal in fp64, as GradScaler); True
    when any is inf or nan."""
    inv = torch.tensor(1.0 / scaler.get_scale(), dtype=torch.float64).float()
    found = False
    for g in grads:
        if g is not None:
            g.mul_(inv)
            found = found or not bool(torch.isfinite(g).all())
    return found


def _tell_scaler(scaler, optimizer, found_inf):
    """GradScaler.update reads each optimizer's found_inf_per_device (torch 1.13 and 2.x alike): the host step
    records its one check there, on the scale's device, as unscale_ would have."""
    device = scaler._scale.device  # noqa: SLF001 — the scale lives where backward scaled the loss
    state = scaler._per_optimizer_states[id(optimizer)]  # noqa: SLF001
    state['found_inf_per_device'][device] = torch.full((1,), float(found_inf), dtype=torch.float32, device=device)


class _NoScaler:
    @staticmethod
    def is_enabled():
        return False


_NO_SCALER = _NoScaler()
