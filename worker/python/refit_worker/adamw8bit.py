"""AdamW with both moments kept in 8 bits (memory.optimizer adamw-8bit), in plain torch.

Each trainable tensor's moments are flattened into blocks of BLOCK values; a block keeps one byte per value (the index
of the nearest value of a 256-value map) and one fp32 scale (the block's largest magnitude). The map is the dynamic
("tree") one of Dettmers et al. 2015/2021: each decade from 1e-7 to 1 of the block's scale gets its own run of
linearly spaced values, so the small values of the second moment keep their size instead of rounding to zero as a
linear int8 map would (which blows the update up). The first moment takes the signed map, the second the unsigned
one without zero (its 0 replaced by 1e-7: Li et al. 2023's "zero-point problem"): a second moment more than 10^7
below its block's largest would otherwise round to 0 while its first moment does not, and the update m / (0 + eps)
explodes (measured: 50x AdamW's on rarely seen embedding rows); rounded up to 1e-7 of the block it only shrinks.

A step dequantises one tensor's moments to fp32, updates them and the weight as torch's AdamW does (decoupled weight
decay, bias correction, the learning rate the scheduler set), and quantises them back; the fp32 temporaries live for
one tensor at a time. The states are ordinary tensors of the optimizer's state_dict (codes uint8, scales fp32, the
step a CPU tensor), so save, restore and ZeRO-1 take them as they take AdamW's, and a resume is exact.
"""
import math

import torch

# Values a block: one fp32 scale each (1.6 % of the codes' bytes).
BLOCK = 256
# A block of zeros gets this scale, so dividing by it stays finite.
MIN_SCALE = 1e-12
# Bytes of one step's fp32 temporaries per value of the tensor being updated (padded to whole blocks): the two
# dequantised moments and the denominator, or, while quantising, the two moments and the int32 codes.
TEMP_BYTES_PER_VALUE = 12


def dynamic_map(signed):
    """The 256 sorted values of the dynamic map on [-1, 1] (signed) or [1e-7, 1] (unsigned).

    Decade k (k = 0 .. 6, magnitude 10^(k-6)) holds the midpoints of 2^k (signed, per sign) or 2^(k+1) (unsigned)
    equal steps of [0.1, 1] × 10^(k-6); with 0 (unsigned: 1e-7) and 1 that is 1 + 1 + 2·127 or 1 + 1 + 254.
    """
    values = [0.0 if signed else 1e-7, 1.0]
    for k in range(7):
        n = 2 ** k if signed else 2 ** (k + 1)
        step = 0.9 / n
        for j in range(n):
            v = (0.1 + (j + 0.5) * step) * 10.0 ** (k - 6)
            values += [v, -v] if signed else [v]
    values.sort()
    assert len(values) == 256
    return torch.tensor(values, dtype=torch.float32)


class QuantMap:
    """One map on one device: its values and the midpoints between neighbours (a value's code is the number of
    midpoints below it: the nearest value, the lower one on a tie)."""

    def __init__(self, signed, device):
        self.values = dynamic_map(signed).to(device)
        self.mids = ((self.values[1:] + self.values[:-1]) / 2).contiguous()


def blocks_of(numel):
    """How many blocks a tensor of `numel` values takes."""
    return max(1, math.ceil(numel / BLOCK))


def quantize_(x, qmap, codes, scale):
    """Quantise the fp32 buffer `x` (a whole number of blocks; divided in place) into `codes` and `scale`."""
    xb = x.view(-1, BLOCK)
    torch.maximum(xb.amax(1), xb.amin(1).neg(), out=scale)
    scale.clamp_(min=MIN_SCALE)
    xb.div_(scale.unsqueeze(1))
    idx = torch.bucketize(x, qmap.mids, out_int32=True)
    codes.copy_(idx)


def dequantize(codes, scale, qmap):
    """The fp32 values of `codes` (a whole number of blocks) scaled by their blocks' `scale`: a new buffer."""
    x = qmap.values.index_select(0, codes.int())
    x.view(-1, BLOCK).mul_(scale.unsqueeze(1))
    return x


def state_bytes(optimizer):
    """Bytes of every tensor in the optimizer's per-parameter states (what the planner prices)."""
    return sum(v.numel() * v.element_size() for st in optimizer.state.values()
               for v in st.values() if torch.is_tensor(v))


class AdamW8bit(torch.optim.Optimizer):
    """torch.optim.AdamW's update with blockwise 8-bit moments (see the module's docstring)."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01):
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay))
        self._maps = {}

    def _map(self, signed, device):
        key = (signed, str(device))
        if key not in self._maps:
            self._maps[key] = QuantMap(signed, device)
        return self._maps[key]

    def _init_state(self, p, state):
        # scale 0: both moments start at exactly 0, as AdamW's (the first quantisation sets real scales)
        nb = blocks_of(p.numel())
        for name in ('exp_avg', 'exp_avg_sq'):
            state[name + '_codes'] = torch.zeros(nb * BLOCK, dtype=torch.uint8, device=p.device)
            state[name + '_scale'] = torch.zeros(nb, dtype=torch.float32, device=p.device)
        state['step'] = torch.tensor(0.0)

    def load_state_dict(self, state_dict):
        """torch's load, except that the uint8 codes stay uint8 (torch casts a float parameter's states to its dtype)
        and go straight to their parameter's device."""
        saved = state_dict['state']
        codes = {i: {k: v for k, v in st.items() if k.endswith('_codes')} for i, st in saved.items()}
        rest = {i: {k: v for k, v in st.items() if not k.endswith('_codes')} for i, st in saved.items()}
        super().load_state_dict({**state_dict, 'state': rest})
        ids = [i for g in state_dict['param_groups'] for i in g['params']]
        params = [p for g in self.param_groups for p in g['params']]
        for i, p in zip(ids, params):
            for k, v in codes.get(i, {}).items():
                self.state[p][k] = v.to(device=p.device, dtype=torch.uint8)

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            beta1, beta2 = group['betas']
            for p in group['params']:
                if p.grad is None:
                    continue
                if p.grad.is_sparse:
                    raise RuntimeError('adamw-8bit does not take sparse gradients')
                state = self.state[p]
                if not state:
                    self._init_state(p, state)
                self._update(p, state, group, beta1, beta2)
        return loss

    def _update(self, p, state, group, beta1, beta2):
        """One tensor's step; its fp32 temporaries are freed before the next tensor's."""
        smap, umap = self._map(True, p.device), self._map(False, p.device)
        state['step'] += 1
        step = int(state['step'].item())
        n = p.numel()
        grad = p.grad.reshape(-1)
        m = dequantize(state['exp_avg_codes'], state['exp_avg_scale'], smap)
        v = dequantize(state['exp_avg_sq_codes'], state['exp_avg_sq_scale'], umap)
        m[:n].mul_(beta1).add_(grad, alpha=1 - beta1)
        v[:n].mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
        lr = group['lr']
        flat = p.view(-1) if p.is_contiguous() else None
        target = flat if flat is not None else p.detach().clone().view(-1)
        target.mul_(1 - lr * group['weight_decay'])
        bias1 = 1 - beta1 ** step
        bias2 = 1 - beta2 ** step
        denom = v[:n].sqrt().div_(math.sqrt(bias2)).add_(group['eps'])
        target.addcdiv_(m[:n], denom, value=-lr / bias1)
        del denom
        if flat is None:
            p.copy_(target.view_as(p))
        quantize_(m, smap, state['exp_avg_codes'], state['exp_avg_scale'])
        quantize_(v, umap, state['exp_avg_sq_codes'], state['exp_avg_sq_scale'])
