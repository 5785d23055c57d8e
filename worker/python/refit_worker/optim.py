"""What a step updates with: the optimizer (AdamW, fused AdamW, 8-bit AdamW or SGD; ZeRO-1 sharded), the learning-rate schedule
and the fp16 loss scaler, built from the `load` command as it says (no choice made here).
"""
import torch

from .adamw8bit import AdamW8bit
from .device import HAS_FUSED_ADAMW
from .dist import log, zero1_optimizer
from .protocol import E_BAD_COMMAND, LEVER_VALUES, WorkerError


def linear_schedule(warmup_steps, total_steps):
    """HF's get_linear_schedule_with_warmup as a LambdaLR factor of the scheduler's step count."""
    def factor(s):
        if s < warmup_steps:
            return s / max(1, warmup_steps)
        return max(0.0, (total_steps - s) / max(1, total_steps - warmup_steps))
    return factor


def make_scaler(enabled):
    """Dynamic loss scaler for fp16 (disabled otherwise); torch.amp.GradScaler where it exists."""
    amp_scaler = getattr(getattr(torch, 'amp', None), 'GradScaler', None)
    if amp_scaler is not None:
        return amp_scaler('cuda', enabled=enabled)
    return torch.cuda.amp.GradScaler(enabled=enabled)


def build_optimizer(model, spec, device, strategy=None):
    """AdamW (fused, or with 8-bit states) or SGD over trainable params; no weight decay on biases and LayerNorm.
    With strategy zero1 the same optimizer inside ZeroRedundancyOptimizer (states sharded over the ranks by whole
    parameters: 8-bit AdamW's blocks are per parameter, so its states shard too); 8-bit AdamW is refused under fsdp,
    whose parameters are DTensor shards that its flat per-tensor blocks and checkpoint gather do not take."""
    zero1 = strategy == 'zero1'
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        if p.requires_grad:
            (no_decay if name.endswith('bias') or 'LayerNorm' in name else decay).append(p)
    groups = [{'params': decay, 'weight_decay': spec['weight_decay']},
              {'params': no_decay, 'weight_decay': 0.0}]
    if spec['kind'] == 'sgd':
        return zero1_optimizer(groups, torch.optim.SGD, lr=spec['lr']) if zero1 else torch.optim.SGD(groups, lr=spec['lr'])
    if spec['kind'] not in LEVER_VALUES['optimizer']:
        raise WorkerError(E_BAD_COMMAND, f'optimizer kind {spec["kind"]!r}: expected ' + ', '.join(LEVER_VALUES['optimizer']))
    if spec['kind'] == 'adamw-8bit':
        if strategy == 'fsdp':
            raise WorkerError(E_BAD_COMMAND, 'optimizer adamw-8bit with distributed.strategy fsdp: its blockwise '
                              'states are not sharded by fsdp; use ddp or zero1, or adamw')
        args = dict(lr=spec['lr'], betas=tuple(spec['betas']), eps=spec['eps'])
        return zero1_optimizer(groups, AdamW8bit, **args) if zero1 else AdamW8bit(groups, **args)
    extra = {}
    if spec['kind'] == 'adamw-fused':
        if HAS_FUSED_ADAMW and device.type == 'cuda':
            extra['fused'] = True
        else:
            log('adamw-fused is not available with this torch/device; using adamw')
    if zero1:
        return zero1_optimizer(groups, torch.optim.AdamW, lr=spec['lr'], betas=tuple(spec['betas']), eps=spec['eps'], **extra)
    return torch.optim.AdamW(groups, lr=spec['lr'], betas=tuple(spec['betas']), eps=spec['eps'], **extra)
