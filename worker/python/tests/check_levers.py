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


# fp32 unit roundoff. Regrouping a sum of n fp32 terms changes it by at most about n * U times the sum of the
# terms' magnitudes (the bound for recursive summation; typically sqrt(n) * U). A gradient or logit of the 2-layer
# CONFIG model passes through at most DEPTH chained reductions (per layer: attention scores, attention values,
# attention output, FFN in, FFN out, and the head), each over at most n terms, so DEPTH * n * U bounds the relative
# difference that reordering alone can make (test/worker/levers.test.ts uses the same bound).
U = 2.0 ** -24
DEPTH = 12


def reorder_tolerance(n):
    """The relative difference allowed between two fp32 results that differ only in reduction order over <= n terms."""
    return DEPTH * n * U


def relative_diff(a, b):
    """||a - b|| / ||a||, in float64."""
    return ((a.double() - b.double()).norm() / a.double().norm()).item()


def relative_update_diff(w0, a, b):
    """||(a - w0) - (b - w0)|| / ||a - w0|| over all tensors, in float64: how far apart two updates from w0 are."""
    num = sum(((a[k].double() - b[k].double()) ** 2).sum().item() for k in w0)
    den = sum(((a[k].double() - w0[k].double()) ** 2).sum().item() for k in w0)
    return (num / den) ** 0.5


def interrupted_step(load, ds, drop_kept=False):
    """Step 1 over [0, 1], [2, 3], [4, 5] with an OOM raised inside micro-batch 2's backward, then continued as
    [2], [3], [4, 5]; returns the trainer and both events."""
    trainer = Trainer(load)
    calls = {'n': 0}

    def fail_second_backward(grad):
        calls['n'] += 1
        if calls['n'] == 2:  # the hook fires once per backward: raise mid-backward of micro-batch 2
            raise RuntimeError('CUDA out of memory. Tried to allocate 2.00 MiB (simulated in backward)')
        return grad
    query = trainer.model.bert.encoder.layer[0].attention.self.query.weight
    handle = query.register_hook(fail_second_backward)
    oom = trainer.train_step(step_cmd(1, [[0, 1], [2, 3], [4, 5]]), ds)
    handle.remove()
    if drop_kept:
        for p in trainer.trainable:
            p.grad = None
    done = trainer.train_step(step_cmd(1, [[2], [3], [4, 5]], cont=True, logical=6), ds)
    return trainer, oom, done


def check_backward_oom(ds):
    """An OOM in the backward of micro-batch 2 of 3 keeps exactly micro-batch 1's gradients.

    SGD with lr 1000 and no clipping makes each update -lr x the accumulated gradient (the update dwarfs the
    weights, so rounding w - lr g hides nothing), and the two runs then differ only in how fp32 sums are grouped:
    examples [2, 3] in one micro-batch or two, and the order micro-batch gradients are added. The longest sum is a
    weight gradient's, over the step's 6 x 24 = 144 token positions, so the bound is reorder_tolerance(144) = 1.0e-4
    (the measured difference is about 4e-8). Micro-batch 1's gradients dropped at the OOM move the update by about
    60% of its size (checked below), thousands of times the bound.
    """
    tolerance = reorder_tolerance(6 * 24)
    sgd = {'kind': 'sgd', 'lr': 1000.0, 'weight_decay': 0.0, 'betas': [0.9, 0.999], 'eps': 1e-8}
    cmd = lambda: load_cmd(optimizer=dict(sgd), max_grad_norm=0.0)  # noqa: E731
    w0 = params(Trainer(cmd()))
    clean = Trainer(cmd())
    clean.train_step(step_cmd(1, [[0, 1], [2, 3], [4, 5]]), ds)
    faulty, oom, done = interrupted_step(cmd(), ds)
    # What a worker that dropped micro-batch 1's gradients at the OOM would give: same steps, gradients cleared.
    lost, _, _ = interrupted_step(cmd(), ds, drop_kept=True)
    diff = relative_update_diff(w0, params(clean), params(faulty))
    lost_diff = relative_update_diff(w0, params(clean), params(lost))
    return {'ok': oom['type'] == 'oom' and oom['completed_micro_batches'] == 1 and done['type'] == 'step'
            and diff <= tolerance and lost_diff > 100 * tolerance,
            'relative_update_diff': diff, 'tolerance': tolerance, 'lost_micro_batch_diff': lost_diff, 'oom': oom['type']}


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
    diff = relative_diff(outs[0], outs[1])  # the fused kernel reorders sums over 24 keys and 32 hidden units
    return {'ok': diff <= reorder_tolerance(32), 'relative_logit_diff': diff}


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
