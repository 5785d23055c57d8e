"""LoRA (the `lora_rank` lever): frozen base weights, trained low-rank adapters on the chosen Linear layers, merged
into the weights whenever they are saved.

An adapted Linear keeps its base `weight` and `bias` under their own names (so the state-dict keys of a plain BERT
stay) and adds `lora_A` [r, in] and `lora_B` [out, r]: y = x W^T + b + scaling * dropout(x) A^T B^T, scaling =
alpha / r. B starts at zero, so step 0 is the base model. A saved model folder holds the merged weights
(W + scaling * B A: a plain BERT for predict, export and serve); checkpoint.pt keeps the adapters and the unmerged
base weights they belong to, so a resumed run continues them exactly. Pure modules and tensor helpers, no files.
"""
import math

import torch
import torch.nn.functional as F
from torch import nn

from .protocol import E_BAD_COMMAND, E_CHECKPOINT_ARCH, WorkerError

# model.lora.targets -> the Linear inside a BertLayer (HF names)
TARGETS = {
    'query': ('attention', 'self', 'query'),
    'key': ('attention', 'self', 'key'),
    'value': ('attention', 'self', 'value'),
    'attention_output': ('attention', 'output', 'dense'),
    'intermediate': ('intermediate', 'dense'),
    'output': ('output', 'dense'),
}
# what model.lora.alpha, .dropout and .targets default to when a load command leaves them out (PEFT's LoRA for BERT)
DEFAULTS = {'alpha': None, 'dropout': 0.0, 'targets': ['query', 'value']}


class LoraLinear(nn.Module):
    """A frozen Linear plus a trained low-rank update; `weight`/`bias` are the base layer's own parameters."""

    def __init__(self, base, rank, alpha, dropout):
        super().__init__()
        self.in_features, self.out_features = base.in_features, base.out_features
        self.weight, self.bias = base.weight, base.bias
        self.weight.requires_grad_(False)
        if self.bias is not None:
            self.bias.requires_grad_(False)
        self.rank = int(rank)
        self.scaling = float(alpha) / self.rank
        # PEFT's initialisation: A as nn.Linear's default (Kaiming uniform), B zero
        self.lora_A = nn.Parameter(torch.empty(self.rank, self.in_features, device=base.weight.device))
        self.lora_B = nn.Parameter(torch.zeros(self.out_features, self.rank, device=base.weight.device))
        nn.init.kaiming_uniform_(self.lora_A, a=math.sqrt(5))
        self.lora_dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()

    def forward(self, x):
        update = F.linear(F.linear(self.lora_dropout(x), self.lora_A), self.lora_B)
        return F.linear(x, self.weight, self.bias) + update * self.scaling

    def merged_weight(self):
        """W + scaling * B A in fp32 (a base held in 16 bits is widened first)."""
        with torch.no_grad():
            return self.weight.float() + self.scaling * (self.lora_B.float() @ self.lora_A.float())


def settings(cmd):
    """(rank, alpha, dropout, targets) of a load command; rank 0 is no LoRA. One E_BAD_COMMAND line when wrong."""
    rank = int(cmd.get('lora_rank') or 0)
    spec = {**DEFAULTS, **(cmd.get('lora') or {})}
    alpha = float(spec['alpha']) if spec['alpha'] is not None else 2.0 * rank
    targets = list(spec['targets'])
    bad = [t for t in targets if t not in TARGETS]
    if rank < 0 or bad or not targets or not 0 <= spec['dropout'] < 1 or alpha <= 0 and rank:
        raise WorkerError(E_BAD_COMMAND, f'lora: rank {rank} (>= 0), alpha {alpha} (> 0), dropout '
                          f'{spec["dropout"]} (in [0, 1)), targets {targets} (of {", ".join(TARGETS)})')
    return rank, alpha, float(spec['dropout']), targets


def apply(model, rank, alpha, dropout, targets, first_layer=0):
    """Freeze the encoder (the head keeps what `configure` set) and adapt `targets` in the layers from `first_layer`
    (the ones memory.freeze_layers leaves trained). Returns the number of adapted Linear layers."""
    for name, p in model.bert.named_parameters():
        if not name.startswith('pooler.'):  # the pooler is the cls head's own (configure decides it)
            p.requires_grad_(False)
    adapted = 0
    for layer in list(model.bert.encoder.layer)[first_layer:]:
        for target in targets:
            *path, last = TARGETS[target]
            parent = layer
            for part in path:
                parent = getattr(parent, part)
            setattr(parent, last, LoraLinear(getattr(parent, last), rank, alpha, dropout))
            adapted += 1
    return adapted


def hold_base(model, dtype):
    """The frozen weights (every parameter without a gradient: the base, and an unused pooler) held in `dtype`, the
    autocast dtype of a CUDA run: autocast then takes them as they are instead of caching a 16-bit copy, and they
    take half the bytes; the adapters and the head stay fp32. Returns the number of values cast."""
    cast = 0
    with torch.no_grad():
        for p in model.parameters():
            if not p.requires_grad and p.is_floating_point() and p.dtype != dtype:
                p.data = p.data.to(dtype)
                cast += p.numel()
    return cast


def adapters(model):
    """{state-dict prefix: LoraLinear} of a model (empty without LoRA)."""
    return {name: m for name, m in model.named_modules() if isinstance(m, LoraLinear)}


def merged(model, tensors=None):
    """The state dict a model folder holds: every adapted weight merged, no lora_* keys (a plain BERT). `tensors`:
    a whole state dict gathered elsewhere, else the model's own."""
    state = dict(model.state_dict() if tensors is None else tensors)
    for prefix, m in adapters(model).items():
        state.pop(f'{prefix}.lora_A')
        state.pop(f'{prefix}.lora_B')
        state[f'{prefix}.weight'] = m.merged_weight().detach()
    # a base held in 16 bits (hold_base) is saved in fp32, as every model folder is
    return {k: v.float() if v.is_floating_point() else v for k, v in state.items()}


def exact_state(model):
    """What checkpoint.pt keeps to continue the adapters: each adapted layer's unmerged weight, lora_A, lora_B."""
    out = {}
    for prefix, m in adapters(model).items():
        for k in ('weight', 'lora_A', 'lora_B'):
            out[f'{prefix}.{k}'] = getattr(m, k).detach().cpu().clone()
    return out


def restore(model, saved, where):
    """After the merged weights are loaded: the unmerged weights and adapters of checkpoint.pt (`saved`), or, from a
    folder without them, B zeroed so that the model is the merged one."""
    found = adapters(model)
    if saved is None:
        with torch.no_grad():
            for m in found.values():
                m.lora_B.zero_()
        return
    expected = {f'{p}.{k}': getattr(m, k) for p, m in found.items() for k in ('weight', 'lora_A', 'lora_B')}
    if sorted(saved) != sorted(expected) or any(tuple(saved[k].shape) != tuple(v.shape) for k, v in expected.items()):
        raise WorkerError(E_CHECKPOINT_ARCH, f'{where}: the LoRA adapters saved do not fit this model '
                          '(another model.lora.rank or targets?)')
    with torch.no_grad():
        for k, v in expected.items():
            v.copy_(saved[k])
