"""In-process checks of the LoRA lever; run by test/worker/lora.test.ts.

Usage: python3 check_lora.py DATASET.refit-ds   (worker/python on PYTHONPATH; the TS test writes the file)
Prints one JSON object {check: {ok, ...}}; exits 1 when a check fails.
"""
import json
import os
import sys
import tempfile

import torch

from check_levers import load_cmd, params, step_cmd
from refit_worker import lora
from refit_worker.data import EncodedDataset
from refit_worker.trainer import Trainer
from refit_worker.weights import read_safetensors

LORA = {'lora_rank': 4, 'lora': {'alpha': 8, 'dropout': 0.0, 'targets': ['query', 'value']}}


def logits(model, ds, indices):
    batch = ds.batch(indices, 24, 0, torch.device('cpu'))
    model.eval()
    with torch.no_grad():
        out = model(batch['input_ids'], batch['attention_mask'], batch['head_pos'], batch['tail_pos'])
    model.train()
    return out


def check_step0(ds):
    """B starts at zero: a LoRA model's logits equal the plain model's (same seed, same base weights)."""
    plain = Trainer(load_cmd(lora_rank=0))
    adapted = Trainer(load_cmd(**LORA))
    base = {k: v for k, v in params(adapted).items() if '.lora_' not in k}
    plain.model.load_state_dict(base)
    diff = (logits(plain.model, ds, [0, 1, 2, 3]) - logits(adapted.model, ds, [0, 1, 2, 3])).abs().max().item()
    return {'ok': diff == 0.0, 'max_abs_diff': diff}


def check_trains_adapters(ds):
    """Only the adapters and the head get gradients and optimizer states; the base weights do not move."""
    t = Trainer(load_cmd(**LORA))
    before = params(t)
    for step in (1, 2):
        t.train_step(step_cmd(step, [[0, 1, 2, 3]]), ds)
    after = params(t)
    moved = sorted(k for k in before if not torch.equal(before[k], after[k]))
    trainable = sorted(n for n, p in t.model.named_parameters() if p.requires_grad)
    expected = sorted([f'bert.encoder.layer.{i}.attention.self.{w}.lora_{m}' for i in range(2)
                       for w in ('query', 'value') for m in 'AB'] + ['classifier.weight', 'classifier.bias'])
    with_state = {id(p) for p in t.optimizer.state}
    return {'ok': trainable == expected and moved == expected and len(with_state) == len(expected),
            'trainable': trainable, 'moved': moved}


def check_merged(ds):
    """The saved folder is a plain BERT whose forward equals the adapter forward within 1e-5; restoring it without
    checkpoint.pt gives the same logits, and checkpoint.pt brings the adapters back exactly."""
    t = Trainer(load_cmd(**LORA))
    for step in (1, 2, 3):
        t.train_step(step_cmd(step, [[0, 1, 2, 3], [4, 5, 6, 7]]), ds)
    rows = list(range(8))
    adapted = logits(t.model, ds, rows)
    out = {}
    with tempfile.TemporaryDirectory() as d:
        folder, ckpt = os.path.join(d, 'model'), os.path.join(d, 'ckpt')
        t.save(folder, False, 3)
        t.save(ckpt, True, 3)
        tensors, _ = read_safetensors(os.path.join(folder, 'model.safetensors'))
        plain_keys = not any('lora' in k for k in tensors)
        plain = Trainer(load_cmd(lora_rank=0))
        plain.restore(folder)
        merged_diff = (logits(plain.model, ds, rows) - adapted).abs().max().item()
        again = Trainer(load_cmd(**LORA))
        again.restore(folder)  # no checkpoint.pt: the merged weights, B zeroed
        folder_diff = (logits(again.model, ds, rows) - adapted).abs().max().item()
        resumed = Trainer(load_cmd(**LORA))
        resumed.restore(ckpt)
        exact = all(torch.equal(a, b) for a, b in zip(lora.exact_state(t.model).values(),
                                                      lora.exact_state(resumed.model).values()))
        e1 = t.train_step(step_cmd(4, [[0, 1, 2, 3]]), ds)
        e2 = resumed.train_step(step_cmd(4, [[0, 1, 2, 3]]), ds)
        out = {'plain_keys': plain_keys, 'merged_max_abs_diff': merged_diff, 'folder_max_abs_diff': folder_diff,
               'exact_adapters': exact, 'loss_after': [e1['loss'], e2['loss']]}
    out['ok'] = (out['plain_keys'] and merged_diff <= 1e-5 and folder_diff <= 1e-5 and out['exact_adapters']
                 and e1['loss'] == e2['loss'])
    return out


def check_checkpointing(ds):
    """Gradient checkpointing and frozen layers with LoRA: the same update as without checkpointing; no adapters in
    frozen layers."""
    a = Trainer(load_cmd(**LORA))
    b = Trainer(load_cmd(**LORA, grad_checkpointing=True))
    ea = a.train_step(step_cmd(1, [[0, 1, 2, 3]]), ds)
    eb = b.train_step(step_cmd(1, [[0, 1, 2, 3]]), ds)
    diff = max((x - y).abs().max().item() for x, y in zip(params(a).values(), params(b).values()))
    frozen = Trainer(load_cmd(**LORA, freeze_layers=1))
    names = sorted(lora.adapters(frozen.model))
    ok = diff <= 1e-6 and abs(ea['loss'] - eb['loss']) <= 1e-6 and all('layer.1.' in n for n in names) and names
    return {'ok': bool(ok), 'max_param_diff': diff, 'adapted_with_freeze_1': names}


def check_base_16bit(ds):
    """hold_base (what a CUDA run in fp16/bf16 does): the frozen base in bf16, adapters and head fp32. On CPU, where
    torch's bf16 autocast runs, two steps train with it: the losses stay within bf16's rounding of the fp32-base
    twin's, the base does not move, and the merged state a model folder holds is fp32."""
    try:
        with torch.autocast(device_type='cpu', dtype=torch.bfloat16):
            torch.ones(2, 2) @ torch.ones(2, 2)
    except RuntimeError as e:
        return {'ok': True, 'skipped': f'no bf16 autocast on this CPU torch: {e}'}
    cmd = load_cmd(**LORA, precision='bf16')
    twin, held = Trainer(cmd), Trainer(cmd)
    cast = lora.hold_base(held.model, torch.bfloat16)
    frozen = {str(p.dtype) for p in held.model.parameters() if not p.requires_grad}
    trained = {str(p.dtype) for p in held.model.parameters() if p.requires_grad}
    before = {k: v for k, v in params(held).items() if '.lora_' not in k and 'classifier' not in k}
    losses = [[t.train_step(step_cmd(s, [[0, 1, 2, 3]]), ds)['loss'] for s in (1, 2)] for t in (twin, held)]
    rel = max(abs(a - b) / abs(a) for a, b in zip(*losses))
    after = params(held)
    still = all(torch.equal(v, after[k]) for k, v in before.items())
    merged = {str(v.dtype) for v in lora.merged(held.model).values() if v.is_floating_point()}
    ok = (cast > 0 and frozen == {'torch.bfloat16'} and trained == {'torch.float32'} and rel <= 2e-2 and still
          and merged == {'torch.float32'})
    return {'ok': bool(ok), 'values_cast': cast, 'losses_fp32_base': losses[0], 'losses_bf16_base': losses[1],
            'max_rel_loss_diff': rel, 'base_unchanged': still, 'merged_dtypes': sorted(merged)}


def main(path):
    torch.set_num_threads(2)
    ds = EncodedDataset(path)
    results = {'step0': check_step0(ds), 'trains_adapters': check_trains_adapters(ds), 'merged': check_merged(ds),
               'checkpointing': check_checkpointing(ds), 'base_16bit': check_base_16bit(ds)}
    ok = all(r['ok'] for r in results.values())
    print(json.dumps({'ok': ok, **results}))
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main(sys.argv[1]))
