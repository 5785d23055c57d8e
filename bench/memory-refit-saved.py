"""Counts the bytes the refit worker's BERT saves for backward per encoder layer (fp32, eager, train mode),
on CPU with torch's saved-tensor hooks, and compares them with the HF-derived per-layer formula the memory
planner's `refit` profile reuses (memory-model.md §2.4: b·s·(34h+8I) + 9·b·a·s²).

CPU dropout saves a float noise tensor (4 B/element) where CUDA's fused dropout saves a 1-byte mask, so the
CPU count exceeds the CUDA formula by exactly 3 B per dropout element: 2 hidden dropouts (2·3 = 6 B per b·s·h)
and the attention-probability dropout (3 B per b·a·s²). Run: /usr/bin/python3 bench/memory-refit-saved.py
(writes bench/results/memory-refit-saved.md).
"""
import os
import sys

import numpy as np
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, 'worker', 'python'))
from refit_worker.model import RelationClassifier  # noqa: E402


def saved_bytes(layers, h, a, b, s):
    """Bytes of distinct non-parameter storages saved for backward by one forward."""
    cfg = dict(vocab_size=1000, hidden_size=h, num_hidden_layers=layers, num_attention_heads=a, intermediate_size=4 * h,
               max_position_embeddings=512, type_vocab_size=2, hidden_dropout_prob=0.1, attention_probs_dropout_prob=0.1)
    torch.manual_seed(0)
    model = RelationClassifier(cfg, 'entity-start', 50, 0.1, use_sdpa=False).train()
    params = {p.data_ptr() for p in model.parameters()}
    seen = {}

    def pack(t):
        st = t.untyped_storage() if hasattr(t, 'untyped_storage') else t.storage()
        seen[st.data_ptr()] = st.nbytes()
        return t

    ids = torch.randint(0, 1000, (b, s))  # [b, s]
    mask = torch.ones(b, s, dtype=torch.long)
    pos = torch.randint(1, s, (b,))
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        model(ids, mask, pos, pos)
    return sum(v for k, v in seen.items() if k not in params)


def main():
    h, a, b = 128, 2, 4
    seqs = (64, 128, 256)
    per_layer = [saved_bytes(2, h, a, b, s) - saved_bytes(1, h, a, b, s) for s in seqs]
    A = np.array([[b * s * h, b * a * s * s] for s in seqs], float)
    c, *_ = np.linalg.lstsq(A, np.array(per_layer, float), rcond=None)
    lines = [
        '# refit worker: saved activation bytes per encoder layer (fp32, eager, CPU, torch %s)' % torch.__version__, '',
        'Command: `/usr/bin/python3 bench/memory-refit-saved.py` (bert-tiny width h=128, a=2, b=4, s ∈ {64, 128, 256};',
        'one layer = the difference between a 2-layer and a 1-layer model).', '',
        '| term | worker on CPU | CPU dropout correction | worker on CUDA (derived) | HF formula (memory-model.md §2.4) |',
        '|---|---|---|---|---|',
        '| bytes per b·s·h (I = 4h) | %.2f | −6 | %.2f | 66 |' % (c[0], c[0] - 6),
        '| bytes per b·a·s² | %.2f | −3 | %.2f | 9 |' % (c[1], c[1] - 3), '',
        'So the worker saves the same tensors as HF BertModel (per layer), and the `refit` profile reuses the',
        "`hf` profile's calibrated coefficients. Differences it does model: head, param groups, padding mask, inputs.", '']
    out = os.path.join(ROOT, 'bench', 'results', 'memory-refit-saved.md')
    with open(out + '.tmp', 'w') as f:
        f.write('\n'.join(lines))
    os.replace(out + '.tmp', out)
    print('\n'.join(lines))


if __name__ == '__main__':
    main()
