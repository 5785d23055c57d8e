"""In-process checks of worker internals the protocol cannot show; run by test/worker/levers.test.ts.

Usage: python3 check_levers.py DATASET.refit-ds   (worker/python on PYTHONPATH; the TS test writes the file)
Prints one JSON object {check: {ok, ...}}; exits 1 when a check fails.
"""
import json
import os
import sys
import tempfile

import torch

from refit_worker.data import EncodedDataset
from refit_worker.model import HAS_SDPA, RelationClassifier
from refit_worker.trainer import Trainer
from refit_worker.weights import load_into, normalise_keys, read_safetensors, write_safetensors

CONFIG = {'vocab_size': 100, 'hidden_size': 32, 'num_hidden_layers': 2, 'num_attention_heads': 4,
          'intermediate_size': 64, 'max_position_embeddings': 64, 'type_vocab_size': 2,
          'hidden_dropout_prob': 0.0, 'attention_probs_dropout_prob': 0.0}


def load_cmd(**over):
    cmd = {'type': 'load', 'config': CONFIG, 'head': {'kind': 'entity-start', 'num_labels': 3, 'dropout': 0.0},
           'seed': 3, 'device': 'cpu', 'precision': 'fp32', 'attention': 'eager', 'grad_checkpointing': False,
           'freeze_layers': 0, 'max_grad_norm': 1.0, 'schedule': {'warmup_steps': 0, 'total_steps': 10},
           'optimizer': {'kind': 'adamw', 'lr': 1e-3, 'weight_decay': 0.01, 'betas': [0.9, 0.999], 'eps': 1e-8}}
    return {**cmd, **over}


def step_cmd(step, micro, cont=False, logical=None):
    n = logical or sum(len(m) for m in micro)
    return {'type': 'train_step', 'step': step, 'dataset': 'd', 'logical_batch_size': n, 'continue': cont,
            'micro_batches': [{'indices': m, 'seq_len': 24} for m in micro]}


def params(trainer):
    return {k: v.detach().clone() for k, v in trainer.model.state_dict().items()}


def max_diff(a, b):
    return max((a[k] - b[k]).abs().max().item() for k in a)


def check_backward_oom(ds):
    """An OOM in the backward of micro-batch 2 of 3 keeps exactly micro-batch 1's gradients."""
    clean = Trainer(load_cmd())
    clean.train_step(step_cmd(1, [[0, 1], [2, 3], [4, 5]]), ds)
    faulty = Trainer(load_cmd())
    calls = {'n': 0}

    def fail_second_backward(grad):
        calls['n'] += 1
        if calls['n'] == 2:  # the hook fires once per backward: raise mid-backward of micro-batch 2
            raise RuntimeError('CUDA out of memory. Tried to allocate 2.00 MiB (simulated in backward)')
        return grad
    query = faulty.model.bert.encoder.layer[0].attention.self.query.weight
    handle = query.register_hook(fail_second_backward)
    oom = faulty.train_step(step_cmd(1, [[0, 1], [2, 3], [4, 5]]), ds)
    handle.remove()
    done = faulty.train_step(step_cmd(1, [[2], [3], [4, 5]], cont=True, logical=6), ds)
    diff = max_diff(params(clean), params(faulty))
    return {'ok': oom['type'] == 'oom' and oom['completed_micro_batches'] == 1 and done['type'] == 'step'
            and diff <= 1e-6, 'max_param_diff': diff, 'oom': oom['type']}


def check_freeze(ds):
    """Frozen params get no gradient, no optimizer state and do not move."""
    t = Trainer(load_cmd(freeze_layers=1))
    before = params(t)
    t.train_step(step_cmd(1, [[0, 1, 2, 3]]), ds)
    after = params(t)
    frozen = [k for k in before if k.startswith(('bert.embeddings.', 'bert.encoder.layer.0.'))]
    moved = [k for k in frozen if not torch.equal(before[k], after[k])]
    with_state = {id(p) for p in t.optimizer.state}
    frozen_params = [p for n, p in t.model.named_parameters() if n in frozen]
    stateful_frozen = [p for p in frozen_params if id(p) in with_state]
    trainable_moved = not torch.equal(before['bert.encoder.layer.1.output.dense.weight'],
                                      after['bert.encoder.layer.1.output.dense.weight'])
    return {'ok': bool(frozen) and not moved and not stateful_frozen and trainable_moved
            and len(with_state) == len(t.trainable), 'frozen_tensors': len(frozen), 'moved': moved,
            'optimizer_states': len(with_state), 'trainable_tensors': len(t.trainable)}


def check_safetensors():
    """F32/F16/BF16/I64 round trip; `bert.`-prefixed and bare keys load the same weights."""
    model = RelationClassifier(CONFIG, 'cls', 3, 0.0)
    sd = model.state_dict()
    with tempfile.TemporaryDirectory() as tmp:
        mixed = {'a': torch.randn(3, 4), 'b': torch.randn(5).half(), 'c': torch.randn(2, 2).bfloat16(),
                 'd': torch.arange(6).view(2, 3)}  # [6] -> [2, 3]
        write_safetensors(os.path.join(tmp, 'x.safetensors'), mixed, {'k': 1})
        back, meta = read_safetensors(os.path.join(tmp, 'x.safetensors'))
        round_trip = all(back[k].dtype == v.dtype and torch.equal(back[k], v) for k, v in mixed.items())
        bare = {k[len('bert.'):]: v for k, v in sd.items() if k.startswith('bert.')}
        other = RelationClassifier(CONFIG, 'cls', 3, 0.0)
        load_into(other, normalise_keys(bare), 'bare')
        same = all(torch.equal(v, other.state_dict()[k]) for k, v in sd.items() if k.startswith('bert.'))
    return {'ok': round_trip and meta == {'k': '1'} and same, 'round_trip': round_trip, 'bare_keys_load': same}


def check_sdpa(ds):
    """SDPA and eager attention agree (fp32, padded batch); skipped where torch has no SDPA."""
    if not HAS_SDPA:
        return {'ok': True, 'skipped': 'this torch has no scaled_dot_product_attention (torch 1.13)'}
    batch = ds.batch([0, 1, 2, 3], 24, 0, torch.device('cpu'))
    outs = []
    for attention in ('eager', 'sdpa'):
        t = Trainer(load_cmd(attention=attention))
        t.model.eval()
        with torch.no_grad():
            outs.append(t.model(batch['input_ids'], batch['attention_mask'], batch['head_pos'], batch['tail_pos']))
    diff = (outs[0] - outs[1]).abs().max().item()
    return {'ok': diff <= 1e-5, 'max_logit_diff': diff}


def main(path):
    torch.set_num_threads(2)
    ds = EncodedDataset(path)
    results = {'backward_oom': check_backward_oom(ds), 'freeze': check_freeze(ds),
               'safetensors': check_safetensors(), 'sdpa': check_sdpa(ds)}
    ok = all(r['ok'] for r in results.values())
    print(json.dumps({'ok': ok, **results}))
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main(sys.argv[1]))
