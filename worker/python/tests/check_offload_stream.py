"""In-process checks of optimizer offload's gradient stream (refit_worker/grad_stream.py) the protocol cannot show; run
by test/worker/offload-stream.test.ts.

Usage: python3 check_offload_stream.py DATASET.refit-ds   (worker/python on PYTHONPATH; the TS test writes the file)
Prints one JSON object {check: {ok, ...}, ok}; exits 1 when a check fails.
"""
import collections
import json
import sys

import torch
import torch.utils.checkpoint

from refit_worker.data import EncodedDataset
from refit_worker.grad_stream import GradStream
from refit_worker.trainer import Trainer

CONFIG = {'vocab_size': 100, 'hidden_size': 32, 'num_hidden_layers': 2, 'num_attention_heads': 4,
          'intermediate_size': 64, 'max_position_embeddings': 64, 'type_vocab_size': 2,
          'hidden_dropout_prob': 0.1, 'attention_probs_dropout_prob': 0.1}


def load_cmd(**over):
    cmd = {'type': 'load', 'config': CONFIG, 'head': {'kind': 'entity-start', 'num_labels': 3, 'dropout': 0.1},
           'seed': 3, 'device': 'cpu', 'precision': 'fp32', 'attention': 'eager', 'grad_checkpointing': False,
           'freeze_layers': 0, 'max_grad_norm': 0.5, 'schedule': {'warmup_steps': 0, 'total_steps': 10},
           'offload': 'none',
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


def check_hooks(ds):
    """Each trainable parameter's hook fires once per backward, with checkpointing on and off, the device holds no
    gradient once a micro-batch's backward is over, and a step's accumulator holds every parameter's gradient."""
    out = {'ok': True}
    for ckpt in (False, True):
        t = Trainer(load_cmd(offload='optimizer', grad_checkpointing=ckpt))
        stream = t.optimizer.stream
        fired = collections.Counter()
        left_on_device = []
        arrived, commit = stream.arrived, stream.commit

        def counting(i, arrived=arrived, fired=fired):
            fired[i] += 1
            arrived(i)

        def committing(commit=commit, t=t, left=left_on_device):
            left.append(sum(p.grad is not None for p in t.trainable))
            commit()
        stream.arrived, stream.commit = counting, committing
        ev = t.train_step(step_cmd(1, [[0, 1], [2, 3], [4, 5]]), ds)
        n = len(t.trainable)
        ok = (ev['type'] == 'step' and len(fired) == n and set(fired.values()) == {3} and left_on_device == [0] * 3)
        out[f'checkpointing_{"on" if ckpt else "off"}'] = {'ok': ok, 'params': n, 'fires': sorted(set(fired.values())),
                                                          'device_grads_after_backward': left_on_device}
        out['ok'] = out['ok'] and ok
    return out


def interrupted_step(load, ds):
    """Step 1 over [0, 1], [2, 3], [4, 5] with an OOM raised inside micro-batch 2's backward (after the layers above
    the first sent their gradients), then continued as [2], [3], [4, 5]; then step 2. The weights after it."""
    trainer = Trainer(load)
    calls = {'n': 0}

    def fail_second_backward(grad):
        calls['n'] += 1
        if calls['n'] == 2:
            raise RuntimeError('CUDA out of memory. Tried to allocate 2.00 MiB (simulated in backward)')
        return grad
    query = trainer.model.bert.encoder.layer[0].attention.self.query.weight
    handle = query.register_hook(fail_second_backward)
    oom = trainer.train_step(step_cmd(1, [[0, 1], [2, 3], [4, 5]]), ds)
    handle.remove()
    done = trainer.train_step(step_cmd(1, [[2], [3], [4, 5]], cont=True, logical=6), ds)
    again = trainer.train_step(step_cmd(2, [[6, 7], [8, 9]]), ds)
    return params(trainer), [oom['type'], done['type'], again['type']], [done.get('loss'), again.get('loss')]


def check_backward_oom(ds):
    """An OOM half-way through micro-batch 2's backward, with optimizer offload: micro-batch 1's gradient kept, the
    half-sent one dropped; the weights and losses are those of the same recovery without offload (within 1e-6)."""
    runs = {mode: interrupted_step(load_cmd(offload=mode, grad_checkpointing=True), ds)
            for mode in ('none', 'optimizer', 'all')}
    base = runs['none']
    diffs = {m: max_diff(base[0], r[0]) for m, r in runs.items() if m != 'none'}
    loss_diffs = {m: max(abs(a - b) for a, b in zip(base[2], r[2])) for m, r in runs.items() if m != 'none'}
    ok = (all(r[1] == ['oom', 'step', 'step'] for r in runs.values())
          and all(d <= 1e-6 for d in diffs.values()) and all(d <= 1e-6 for d in loss_diffs.values()))
    return {'ok': ok, 'events': {m: r[1] for m, r in runs.items()}, 'weight_diff': diffs, 'loss_diff': loss_diffs}


class FakeScaler:
    """GradScaler's surface the trainer and the host step use, on CPU (torch's is CUDA-only in 1.13): a fixed
    scale, and update() reads found_inf_per_device as GradScaler.update does (backoff 0.5 on inf)."""

    def __init__(self, scale):
        self._scale = torch.full((1,), scale)
        self._per_optimizer_states = collections.defaultdict(lambda: {'stage': 0, 'found_inf_per_device': {}})
        self.found = []

    def scale(self, loss):
        return loss * self._scale[0]

    def is_enabled(self):
        return True

    def get_scale(self):
        return self._scale.item()

    def update(self):
        found = [f for st in self._per_optimizer_states.values() for f in st['found_inf_per_device'].values()]
        assert found, 'No inf checks were recorded prior to update.'
        self.found.append(float(sum(found)))
        if self.found[-1]:
            self._scale.mul_(0.5)
        self._per_optimizer_states.clear()

    def state_dict(self):
        return {}


def check_scaler(ds):
    """fp16's loss scaling with offloaded gradients: scaled by 1024 (a power of two, so exact), the host unscales to
    the unscaled run's weights; an inf in one gradient: the host finds it, skips the step (weights unchanged) and
    the scaler is told (its scale backs off and the step event says skipped), as GradScaler does on the device."""
    plain = Trainer(load_cmd(offload='optimizer'))
    plain.train_step(step_cmd(1, [[0, 1], [2, 3]]), ds)
    scaled = Trainer(load_cmd(offload='optimizer'))
    scaled.scaler = FakeScaler(1024.0)
    ev = scaled.train_step(step_cmd(1, [[0, 1], [2, 3]]), ds)
    same = max_diff(params(plain), params(scaled))
    inf = Trainer(load_cmd(offload='optimizer'))
    inf.scaler = FakeScaler(1024.0)
    inf.model.classifier.weight.register_hook(lambda g: g * float('inf'))
    before = params(inf)
    skipped = inf.train_step(step_cmd(1, [[0, 1], [2, 3]]), ds)
    unchanged = max_diff(before, params(inf))
    ok = (same == 0.0 and scaled.scaler.found == [0.0] and not ev.get('skipped')
          and unchanged == 0.0 and inf.scaler.found == [1.0] and skipped.get('skipped') is True)
    return {'ok': ok, 'scaled_vs_plain': same, 'found': [scaled.scaler.found, inf.scaler.found],
            'inf_step_moved_weights': unchanged, 'inf_step_skipped': skipped.get('skipped')}


def check_reentrant():
    """A reentrant checkpoint (torch's older default) recomputes its layers in a backward of its own: the hooks still
    fire once per parameter, and the host gradients equal those of the same model without the stream."""
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(6, 6), torch.nn.Tanh(), torch.nn.Linear(6, 3))
    x = torch.randn(4, 6, requires_grad=True)
    model(x).square().sum().backward()
    want = [p.grad.clone() for p in model.parameters()]
    model.zero_grad(set_to_none=True)
    stream = GradStream(list(model.parameters()), torch.device('cpu'))
    fired = collections.Counter()
    arrived = stream.arrived
    stream.arrived = lambda i: (fired.update([i]), arrived(i))
    stream.begin()
    torch.utils.checkpoint.checkpoint(model, x, use_reentrant=True).square().sum().backward()
    stream.commit()
    got = stream.grads()
    same = all(torch.equal(a, b) for a, b in zip(want, got))
    on_device = sum(p.grad is not None for p in model.parameters())
    ok = same and set(fired.values()) == {1} and len(fired) == len(want) and on_device == 0
    return {'ok': ok, 'fires': sorted(set(fired.values())), 'same_gradients': same, 'device_grads': on_device}


def check_released():
    """A stream whose optimizer is gone is freed with it: the hooks hold no reference to it."""
    model = torch.nn.Linear(4, 4)
    stream = GradStream(list(model.parameters()), torch.device('cpu'))
    ref = __import__('weakref').ref(stream)
    del stream
    model(torch.randn(2, 4)).sum().backward()  # the hooks of a dropped stream do nothing
    return {'ok': ref() is None and model.weight.grad is not None}


def main():
    ds = EncodedDataset(sys.argv[1])
    results = {'hooks': check_hooks(ds), 'backward_oom': check_backward_oom(ds), 'scaler': check_scaler(ds),
               'reentrant': check_reentrant(), 'released': check_released()}
    results['ok'] = all(r['ok'] for r in results.values())
    print(json.dumps(results))
    sys.exit(0 if results['ok'] else 1)


if __name__ == '__main__':
    main()
