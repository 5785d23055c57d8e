"""Golden parity check: the worker's BERT against HF outputs and gradients stored in golden/tiny-bert.

Usage: python3 check_parity.py GOLDEN_TINY_BERT_DIR   (run with worker/python on PYTHONPATH)
Prints one JSON object with the max abs differences per weight file; exits 1 when a tolerance fails.
"""
import gzip
import json
import os
import shutil
import sys
import tempfile

import torch

from refit_worker.model import RelationClassifier
from refit_worker.weights import load_into, read_model_folder

TOLERANCE = 1e-5  # fp32, eval mode: HF and this code differ only in summation order


def check(folder, weights_file, ref):
    """Compare outputs and probe-loss gradients when the folder holds only `weights_file`."""
    with tempfile.TemporaryDirectory() as tmp:
        for name in ('config.json', weights_file):
            shutil.copy(os.path.join(folder, name), tmp)
        cfg = json.load(open(os.path.join(tmp, 'config.json')))
        model = RelationClassifier(cfg, 'cls', 2, 0.0)
        tensors, _ = read_model_folder(tmp, cfg)
        load_into(model, tensors, tmp)
    bert = model.bert.eval()
    ids, mask, types = (torch.tensor(ref[k]) for k in ('input_ids', 'attention_mask', 'token_type_ids'))
    hidden, pooled = bert(ids, mask, types)
    r = torch.tensor(ref['R'])
    loss = (hidden * r * mask[..., None]).sum() + (pooled * r[:, 0]).sum()  # mask [b, n] -> [b, n, 1]
    loss.backward()
    grads = dict(bert.named_parameters())
    # Gradient norms: relative 1e-5, plus 1e-6 absolute because the attention key biases have a
    # mathematically zero gradient (softmax ignores a per-row constant): both sides are ~5e-8 of rounding.
    bad_norms = [k for k, v in ref['grad_norms'].items()
                 if abs(grads[k].grad.norm().item() - v) > 1e-5 * v + 1e-6]
    q0 = grads['encoder.layer.0.attention.self.query.weight'].grad
    return {
        'last_hidden_state': (hidden - torch.tensor(ref['last_hidden_state'])).abs().max().item(),
        'pooler_output': (pooled - torch.tensor(ref['pooler_output'])).abs().max().item(),
        'loss_rel': abs(loss.item() - ref['loss']) / abs(ref['loss']),
        'grad_norms_failed': bad_norms,
        'grad_query0_max_abs': (q0 - torch.tensor(ref['grad_query0'])).abs().max().item(),
        'grad_query0_scale': torch.tensor(ref['grad_query0']).abs().max().item(),
        'params_checked': len(ref['grad_norms']),
    }


def main(folder):
    ref = json.load(gzip.open(os.path.join(folder, 'reference.json.gz')))
    result = {w: check(folder, w, ref) for w in ('model.safetensors', 'pytorch_model.bin')}
    ok = all(r['last_hidden_state'] <= TOLERANCE and r['pooler_output'] <= TOLERANCE
             and r['loss_rel'] <= 1e-5 and not r['grad_norms_failed']
             and r['grad_query0_max_abs'] <= 1e-5 * max(1.0, r['grad_query0_scale'])
             and r['params_checked'] == 39 for r in result.values())
    print(json.dumps({'ok': ok, **result}))
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main(sys.argv[1]))
