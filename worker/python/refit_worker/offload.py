"""memory.offload: what a training run keeps in host memory instead of on the device, as the `load` command says.

optimizer (and all): the optimizer optim.py builds, whatever its kind, is built over an fp32 copy of the trainable
parameters in host memory and keeps its states there. At the step each gradient is copied to the host and freed on
the device, the host optimizer steps, and the parameters are copied back. The gradients stay on the device while a
step's micro-batches run (an OOM can then drop one micro-batch and keep the others, steps.py).
activations (and all): every tensor autograd saves in a forward is kept in host memory and brought back in backward
(torch.autograd.graph.save_on_cpu), and each checkpointed layer's input too (checkpoint_input).

On CUDA the host buffers are pinned and the copies non-blocking on the compute stream (the parameters' copy back
overlaps the next forward's start); on CPU the same code runs with plain copies, so its numerics are tested there.
"""
import contextlib

import torch

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
        return HostOptimizer(model, build, self.pin)

    @staticmethod
    def scheduled(optimizer):
        """The optimizer a learning-rate scheduler drives: the host one inside a HostOptimizer."""
        return getattr(optimizer, 'inner', optimizer)

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
    """An optimizer over host copies of the trainable parameters, with the interface the trainer, GradScaler and
    checkpoint.py use: param_groups (the device parameters with the host optimizer's settings), step, zero_grad,
    state_dict and load_state_dict (the host optimizer's: the same layout as the optimizer on the device, so a
    checkpoint resumes with or without offload)."""

    def __init__(self, model, build, pin):
        self.pin = pin
        self.device_params, named = [], []
        for name, p in model.named_parameters():
            if not p.requires_grad:
                continue
            host = torch.empty(p.shape, dtype=torch.float32, pin_memory=pin)
            host.copy_(p.detach())
            host.requires_grad_(True)
            self.device_params.append(p)
            named.append((name, host))
        self.host_params = [h for _, h in named]
        self.grads = [torch.empty(h.shape, dtype=torch.float32, pin_memory=pin) for h in self.host_params]
        self.inner = build(_HostParams(named), torch.device('cpu'))
        device_of = {id(h): p for p, h in zip(self.device_params, self.host_params)}
        self._device_groups = [[device_of[id(h)] for h in g['params']] for g in self.inner.param_groups]

    @property
    def param_groups(self):
        """The host optimizer's groups with the device parameters in them (GradScaler unscales their gradients)."""
        return [dict(g, params=ps) for g, ps in zip(self.inner.param_groups, self._device_groups)]

    @property
    def state(self):
        return self.inner.state

    def zero_grad(self, set_to_none=True):
        for p, h in zip(self.device_params, self.host_params):
            p.grad = None
            h.grad = None

    def step(self, closure=None):
        """Gradients to the host (each freed on the device once copied), the host step, parameters back."""
        for p, h, g in zip(self.device_params, self.host_params, self.grads):
            if p.grad is None:
                h.grad = None  # as on the device: AdamW skips a parameter without a gradient
                continue
            g.copy_(p.grad, non_blocking=self.pin)
            h.grad = g
            p.grad = None
        if self.pin:
            torch.cuda.current_stream().synchronize()  # the gradients have arrived in host memory
        self.inner.step()
        with torch.no_grad():
            for p, h in zip(self.device_params, self.host_params):
                p.copy_(h, non_blocking=self.pin)  # from pinned memory: queued before the next forward's kernels

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
