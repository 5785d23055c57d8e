"""CUDA checks of the worker's GPU-only paths, for a machine with a GPU (the test suite skips it elsewhere).

Usage: PYTHONPATH=worker/python python3 worker/python/tests/check_cuda.py
Checks fp16 (GradScaler) and bf16 steps, fused AdamW against AdamW, SDPA against eager (and that a fused
SDPA kernel accepts our padding mask), and a real CUDA OOM under a small budget recovered with `continue`.
Prints one JSON object {check: {ok, ...}}; exits 1 when a check fails, 2 when there is no CUDA.
"""
import contextlib
import json
import sys

import torch
import torch.nn.functional as F

from refit_worker.device import memory_stats
from refit_worker.trainer import Trainer

BASE = {'vocab_size': 1000, 'hidden_size': 256, 'num_hidden_layers': 2, 'num_attention_heads': 4,
        'intermediate_size': 1024, 'max_position_embeddings': 512, 'type_vocab_size': 2,
        'hidden_dropout_prob': 0.0, 'attention_probs_dropout_prob': 0.0}


class RandomDataset:
    """Deterministic random examples with ragged lengths; same `batch` contract as data.EncodedDataset."""
    path = 'random'

    def __init__(self, n=64, max_len=128):
        g = torch.Generator().manual_seed(0)
        self.ids = torch.randint(5, 1000, (n, max_len), generator=g)
        self.lengths = torch.randint(16, max_len + 1, (n,), generator=g)
        self.labels = torch.randint(0, 4, (n,), generator=g)

    def batch(self, indices, seq_len, pad_id, device):
        idx = torch.tensor(indices)
        lengths = self.lengths[idx].clamp(max=seq_len)
        mask = torch.arange(seq_len)[None, :] < lengths[:, None]  # [1, n] < [b, 1] -> [b, n]
        ids = torch.where(mask, self.ids[idx, :seq_len], torch.full_like(mask, pad_id, dtype=torch.long))
        labels = self.labels[idx]
        return {'input_ids': ids.to(device), 'attention_mask': mask.long().to(device),
                'head_pos': torch.ones(len(idx), dtype=torch.long, device=device),
                'tail_pos': torch.full((len(idx),), 3, device=device), 'labels': labels.to(device),
                'label_range': (int(labels.min()), int(labels.max())), 'tokens': int(lengths.sum())}


def load(**over):
    cmd = {'type': 'load', 'config': BASE, 'head': {'kind': 'entity-start', 'num_labels': 4, 'dropout': 0.0},
           'seed': 1, 'device': 'cuda', 'precision': 'fp32', 'attention': 'eager', 'grad_checkpointing': False,
           'freeze_layers': 0, 'max_grad_norm': 1.0, 'schedule': {'warmup_steps': 0, 'total_steps': 10},
           'optimizer': {'kind': 'adamw', 'lr': 1e-4, 'weight_decay': 0.01, 'betas': [0.9, 0.999], 'eps': 1e-8}}
    return Trainer({**cmd, **over})


def step(trainer, ds, micro, step_no=1, cont=False, logical=None):
    return trainer.train_step({'step': step_no, 'dataset': 'd', 'continue': cont,
                               'logical_batch_size': logical or sum(len(m) for m in micro),
                               'micro_batches': [{'indices': m, 'seq_len': 128} for m in micro]}, ds)


def check_precisions(ds):
    out = {}
    for precision in ('fp32', 'fp16', 'bf16'):
        if precision == 'bf16' and not torch.cuda.is_bf16_supported():
            out[precision] = {'ok': True, 'skipped': 'no bf16 on this GPU'}
            continue
        ev = step(load(precision=precision), ds, [list(range(16))])
        out[precision] = {'ok': ev['type'] == 'step' and ev['loss'] == ev['loss'], 'loss': ev['loss']}
    losses = [r['loss'] for r in out.values() if 'loss' in r]
    out['ok'] = all(r['ok'] for r in out.values() if isinstance(r, dict)) and max(losses) - min(losses) < 2e-2
    return out


def check_fused(ds):
    results = []
    for kind in ('adamw', 'adamw-fused'):
        t = load(optimizer={'kind': kind, 'lr': 1e-3, 'weight_decay': 0.01, 'betas': [0.9, 0.999], 'eps': 1e-8})
        step(t, ds, [list(range(16))])
        results.append(torch.cat([p.detach().flatten() for p in t.model.parameters()]))
    diff = (results[0] - results[1]).abs().max().item()
    return {'ok': diff < 1e-5, 'max_param_diff': diff}


def fused_only():
    """A context allowing only the fused SDPA kernels, or None where torch lacks a switch."""
    attention = getattr(torch.nn, 'attention', None)
    if attention is not None and hasattr(attention, 'sdpa_kernel'):
        backends = [attention.SDPBackend.EFFICIENT_ATTENTION, attention.SDPBackend.FLASH_ATTENTION]
        return attention.sdpa_kernel(backends)
    if hasattr(torch.backends.cuda, 'sdp_kernel'):
        return torch.backends.cuda.sdp_kernel(enable_math=False, enable_flash=True, enable_mem_efficient=True)
    return None


def check_sdpa(ds):
    if not hasattr(F, 'scaled_dot_product_attention'):
        return {'ok': True, 'skipped': 'no SDPA in this torch'}
    b = ds.batch(list(range(16)), 128, 0, torch.device('cuda'))
    logits = []
    for attention in ('eager', 'sdpa'):
        t = load(attention=attention)
        t.model.eval()
        ctx = fused_only() if attention == 'sdpa' else None
        with torch.no_grad(), (ctx or contextlib.nullcontext()), torch.autocast('cuda', dtype=torch.float16):
            logits.append(t.model(b['input_ids'], b['attention_mask'], b['head_pos'], b['tail_pos']).float())
    diff = (logits[0] - logits[1]).abs().max().item()
    return {'ok': diff < 2e-2, 'max_logit_diff_fp16': diff, 'fused_kernel_forced': fused_only() is not None}


def check_budget_oom(ds):
    """A real OOM under a budget: oom event, then `continue` with smaller micro-batches finishes the step."""
    t = load(budget_bytes=600 * 2 ** 20, config={**BASE, 'num_hidden_layers': 4})
    big = [list(range(64))]
    first = step(t, ds, big, logical=64)
    if first['type'] == 'step':
        return {'ok': False, 'note': 'no OOM under 600 MiB: raise the batch', 'memory': first['memory']}
    smaller = [list(range(i, i + 4)) for i in range(0, 64, 4)]
    done = step(t, ds, smaller, cont=True, logical=64)
    return {'ok': done['type'] == 'step' and done['examples'] == 64, 'oom_message': first['message'][:160],
            'memory': memory_stats(torch.device('cuda'))}


def main():
    if not torch.cuda.is_available():
        print(json.dumps({'ok': False, 'skipped': 'no CUDA'}))
        return 2
    ds = RandomDataset()
    results = {}
    for name, fn in (('precisions', check_precisions), ('fused_adamw', check_fused), ('sdpa', check_sdpa),
                     ('budget_oom', check_budget_oom)):
        try:
            results[name] = fn(ds)
        except Exception as e:  # report every check, not just the first failure
            results[name] = {'ok': False, 'error': f'{type(e).__name__}: {str(e).splitlines()[0][:300]}'}
    ok = all(r['ok'] for r in results.values())
    print(json.dumps({'ok': ok, 'torch': torch.__version__, 'device': torch.cuda.get_device_name(0), **results}))
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main())
