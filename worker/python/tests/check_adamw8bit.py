"""In-process checks of 8-bit AdamW (refit_worker/adamw8bit.py); run by test/worker/adamw-8bit.test.ts.

Usage: python3 check_adamw8bit.py DATASET.refit-ds   (worker/python on PYTHONPATH; the TS test writes the file)
Prints one JSON object {ok, check: {ok, ...}}; exits 1 when a check fails.
"""
import copy
import json
import math
import os
import sys
import tempfile

import torch

from refit_worker import checkpoint
from refit_worker.adamw8bit import BLOCK, AdamW8bit, QuantMap, dequantize, dynamic_map, quantize_, state_bytes
from refit_worker.data import EncodedDataset
from refit_worker.optim import build_optimizer, linear_schedule
from refit_worker.protocol import WorkerError
from refit_worker.trainer import Trainer

sys.path.insert(0, os.path.dirname(__file__))
from check_levers import load_cmd, params, relative_update_diff, step_cmd  # noqa: E402

# A model big enough that most of its values sit in whole blocks, as BERT's do (the biases of 128 are half padding).
MID = {'vocab_size': 1000, 'hidden_size': 128, 'num_hidden_layers': 2, 'num_attention_heads': 4,
       'intermediate_size': 512, 'max_position_embeddings': 64, 'type_vocab_size': 2,
       'hidden_dropout_prob': 0.0, 'attention_probs_dropout_prob': 0.0}
ADAMW = {'kind': 'adamw', 'lr': 1e-3, 'weight_decay': 0.01, 'betas': [0.9, 0.999], 'eps': 1e-8}
ADAMW8 = dict(ADAMW, kind='adamw-8bit')


# ---- the reference: the same quantiser and update written out naively (no padding trick, no in-place buffers) ----

def ref_codes(x, values):
    """Nearest map value by brute force: the number of midpoints strictly below x (ties take the lower code)."""
    mids = (values[1:] + values[:-1]) / 2
    return (x.reshape(-1, 1) > mids.reshape(1, -1)).sum(1).to(torch.uint8)


def ref_quantize(x, values):
    """x (any length) → (codes padded to whole blocks, one scale a block)."""
    n = x.numel()
    nb = max(1, math.ceil(n / BLOCK))
    padded = torch.zeros(nb * BLOCK)
    padded[:n] = x.reshape(-1)
    blocks = padded.reshape(nb, BLOCK)
    scale = torch.clamp(blocks.abs().max(1).values, min=1e-12)
    return ref_codes((blocks / scale.reshape(-1, 1)).reshape(-1), values), scale


def ref_dequantize(codes, scale, n, values):
    return (values[codes.long()].reshape(-1, BLOCK) * scale.reshape(-1, 1)).reshape(-1)[:n]


class ReferenceAdamW8bit:
    """The update of torch.optim.AdamW on moments stored by ref_quantize."""

    def __init__(self, groups, betas, eps):
        self.groups, self.betas, self.eps = groups, betas, eps
        self.signed, self.unsigned = dynamic_map(True), dynamic_map(False)
        self.state = {}

    def step(self, lrs):
        b1, b2 = self.betas
        for group, lr in zip(self.groups, lrs):
            for p in group['params']:
                n = p.numel()
                nb = max(1, math.ceil(n / BLOCK))
                zero = (torch.zeros(nb * BLOCK, dtype=torch.uint8), torch.zeros(nb))
                st = self.state.setdefault(id(p), {'step': 0, 'm': zero, 'v': zero})
                st['step'] += 1
                g = p.grad.reshape(-1)
                # AdamW's formulas with torch's own ops (add with alpha, addcmul, addcdiv round once, as there)
                m = torch.add(ref_dequantize(*st['m'], n, self.signed) * b1, g, alpha=1 - b1)
                v = torch.addcmul(ref_dequantize(*st['v'], n, self.unsigned) * b2, g, g, value=1 - b2)
                w = p.data.reshape(-1) * (1 - lr * group['weight_decay'])
                denom = v.sqrt() / math.sqrt(1 - b2 ** st['step']) + self.eps
                p.data.copy_(torch.addcdiv(w, m, denom, value=-lr / (1 - b1 ** st['step'])).reshape(p.shape))
                st['m'], st['v'] = ref_quantize(m, self.signed), ref_quantize(v, self.unsigned)


# ---- checks ----

def check_round_trip():
    """Quantise → dequantise: each value lands on its nearest map value (the brute-force reference's code, the same
    scale), so its error is at most its distance to the nearest map value times its block's scale: at most
    0.9/64/2 = 0.70 % (signed) and 0.9/128/2 = 0.35 % (unsigned) of the block's largest magnitude; values of at
    least 1 % of it keep a relative error ≤ 0.09/32/2/0.01 = 14 % (signed) and 7 % (unsigned), and none from 1e-6 of
    it becomes 0 (a linear int8 map flushes everything under 1/254); the unsigned map never gives 0."""
    torch.manual_seed(0)
    out = {}
    for name, signed in (('signed', True), ('unsigned', False)):
        values = dynamic_map(signed)
        qmap = QuantMap(signed, 'cpu')
        # magnitudes from 1e-9 to 1e2 (log-uniform), signs as the map allows, some exact zeros, a ragged last block
        x = torch.exp(torch.empty(10 * BLOCK + 37).uniform_(math.log(1e-9), math.log(1e2)))
        if signed:
            x = x * torch.where(torch.rand_like(x) < 0.5, -1.0, 1.0)
        x[::97] = 0
        n, nb = x.numel(), math.ceil(x.numel() / BLOCK)
        buf = torch.zeros(nb * BLOCK)
        buf[:n] = x
        codes, scale = torch.empty(nb * BLOCK, dtype=torch.uint8), torch.empty(nb)
        quantize_(buf.clone(), qmap, codes, scale)
        back = dequantize(codes, scale, qmap)[:n]
        rc, rs = ref_quantize(x, values)
        same_codes = torch.equal(codes, rc) and torch.equal(scale, rs)
        per_block = scale.repeat_interleave(BLOCK)[:n]
        xs = x / per_block
        nearest = (xs.reshape(-1, 1) - values.reshape(1, -1)).abs().min(1).values
        err = (back - x).abs()
        # + the rounding of value × scale and of x / scale (a few fp32 ulps)
        within = bool((err <= nearest * per_block * (1 + 1e-6) + 3e-7 * (x.abs() + back.abs()) + 1e-30).all())
        worst = (err / per_block).max().item()
        limit = 0.9 / (64 if signed else 128) / 2
        big = x.abs() >= per_block * 0.01
        rel = (err[big] / x.abs()[big]).max().item()
        rel_limit = 0.09 / (32 if signed else 64) / 2 / 0.01
        flushed = int(((back == 0) & (x.abs() >= per_block * 1e-6)).sum()) + (0 if signed else int((back == 0).sum()))
        # (1 + 1e-5): the map values and x / scale are fp32
        ok = same_codes and within and worst <= limit * (1 + 1e-5) and rel <= rel_limit * (1 + 1e-5) and flushed == 0
        out[name] = {'ok': ok, 'same_codes_as_reference': same_codes, 'within_nearest': within,
                     'worst_error_of_block_max': worst, 'limit': limit, 'worst_relative_error_over_1pct': rel,
                     'relative_limit': rel_limit, 'flushed_to_zero': flushed}
    return {'ok': all(v['ok'] for v in out.values()), **out}


def check_reference():
    """Five steps on a small model (two param groups, a warmup schedule, tensors that do not fill their last block):
    the weights and the 8-bit states equal the reference's bit for bit."""
    torch.manual_seed(1)
    model = torch.nn.Sequential(torch.nn.Linear(37, 300), torch.nn.Tanh(), torch.nn.Linear(300, 5))
    twin = copy.deepcopy(model)
    groups = lambda m: [{'params': [m[0].weight, m[2].weight], 'weight_decay': 0.01},  # noqa: E731
                        {'params': [m[0].bias, m[2].bias], 'weight_decay': 0.0}]
    opt = AdamW8bit(groups(model), lr=3e-3, betas=(0.9, 0.999), eps=1e-8)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, linear_schedule(2, 10))
    ref = ReferenceAdamW8bit(groups(twin), (0.9, 0.999), 1e-8)
    x, y = torch.randn(16, 37), torch.randint(0, 5, (16,))
    for _ in range(5):
        lrs = [g['lr'] for g in opt.param_groups]
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(x), y).backward()
        for p, q in zip(model.parameters(), twin.parameters()):
            q.grad = p.grad.clone()
        opt.step()
        sched.step()
        ref.step(lrs)
    same_w = all(torch.equal(p, q) for p, q in zip(model.parameters(), twin.parameters()))
    same_s = all(torch.equal(opt.state[p]['exp_avg_codes'], ref.state[id(q)]['m'][0])
                 and torch.equal(opt.state[p]['exp_avg_sq_scale'], ref.state[id(q)]['v'][1])
                 for p, q in zip(model.parameters(), twin.parameters()))
    return {'ok': same_w and same_s, 'same_weights': same_w, 'same_states': same_s}


def check_vs_adamw(ds):
    """Three steps of the worker's model: 8-bit AdamW's update stays within 5 % of fp32 AdamW's (relative to the
    update's size; the moments' rounding is at most 0.7 % of a block's largest value, and measures about 2 %)."""
    w0 = params(Trainer(load_cmd(optimizer=dict(ADAMW))))
    runs = {}
    for kind, spec in (('adamw', ADAMW), ('adamw-8bit', ADAMW8)):
        t = Trainer(load_cmd(optimizer=dict(spec)))
        for s in range(1, 4):
            t.train_step(step_cmd(s, [[0, 1, 2, 3], [4, 5, 6, 7]]), ds)
        runs[kind] = params(t)
    diff = relative_update_diff(w0, runs['adamw'], runs['adamw-8bit'])
    return {'ok': diff < 0.05, 'relative_update_diff': diff}


def check_state_bytes(ds):
    """The worker's real 8-bit state (codes + scales + step) is at most 30 % of AdamW's on a model of whole-ish
    blocks; the codes and scales are what `per_tensor` lists (the planner prices the same, test/worker/adamw-8bit)."""
    sizes = {}
    per_tensor = []
    for kind, spec in (('adamw', ADAMW), ('adamw-8bit', ADAMW8)):
        t = Trainer(load_cmd(config=MID, optimizer=dict(spec)))
        t.train_step(step_cmd(1, [[0, 1, 2, 3]]), ds)
        sizes[kind] = state_bytes(t.optimizer)
        if kind == 'adamw-8bit':
            per_tensor = [sum(v.numel() * v.element_size() for k, v in st.items() if k != 'step')
                          for st in t.optimizer.state.values()]
    ratio = sizes['adamw-8bit'] / sizes['adamw']
    return {'ok': ratio <= 0.30, 'ratio': ratio, 'bytes': sizes, 'codes_and_scales': sum(per_tensor),
            'tensors': len(per_tensor)}


def check_resume(ds):
    """Save after step 2 → a new worker restores → steps 3 and 4: the same losses, weights and 8-bit states, bit for
    bit, as the run that never stopped."""
    cmd = lambda: load_cmd(optimizer=dict(ADAMW8), schedule={'warmup_steps': 1, 'total_steps': 6})  # noqa: E731
    steps = [[[0, 1, 2, 3]], [[4, 5, 6, 7]], [[1, 3, 5, 7]], [[0, 2, 4, 6]]]
    a = Trainer(cmd())
    losses_a = [a.train_step(step_cmd(i + 1, mb), ds)['loss'] for i, mb in enumerate(steps[:2])]
    with tempfile.TemporaryDirectory() as tmp:
        checkpoint.save(a, tmp, True, 2)
        losses_a += [a.train_step(step_cmd(i + 3, mb), ds)['loss'] for i, mb in enumerate(steps[2:])]
        b = Trainer(cmd())
        restored = checkpoint.restore(b, tmp)
        losses_b = [b.train_step(step_cmd(i + 3, mb), ds)['loss'] for i, mb in enumerate(steps[2:])]
    same_w = all(torch.equal(v, params(b)[k]) for k, v in params(a).items())
    sa, sb = a.optimizer.state_dict()['state'], b.optimizer.state_dict()['state']
    same_s = sa.keys() == sb.keys() and all(
        sa[i].keys() == sb[i].keys() and all(torch.equal(sa[i][k], sb[i][k]) and sa[i][k].dtype == sb[i][k].dtype
                                             for k in sa[i]) for i in sa)
    return {'ok': restored == 2 and losses_a[2:] == losses_b and same_w and same_s, 'losses': losses_a,
            'resumed_losses': losses_b, 'same_weights': same_w, 'same_states': same_s}


def check_sharded():
    """fsdp shards parameters into DTensors that 8-bit AdamW's per-tensor blocks do not take: refused in one line.
    zero1 shards whole parameters, so each rank's ZeroRedundancyOptimizer runs an AdamW8bit over its own (here a gloo
    group of one): its state_dict, consolidated, is an 8-bit AdamW state that a single process loads, and loading it
    back keeps the codes uint8 in the live states and no fp32 copy in the wrapper."""
    import torch.distributed as dist
    model = torch.nn.Linear(4, 3)
    try:
        build_optimizer(model, ADAMW8, torch.device('cpu'), 'fsdp')
        fsdp = None
    except WorkerError as e:
        fsdp = e.code + ': ' + e.message
    store = tempfile.mktemp(prefix='refit-zero1-')
    dist.init_process_group('gloo', init_method='file://' + store, rank=0, world_size=1)
    try:
        opt = build_optimizer(model, ADAMW8, torch.device('cpu'), 'zero1')
        model(torch.randn(2, 4)).sum().backward()
        opt.step()
        opt.consolidate_state_dict(to=0)
        state = opt.state_dict()
        codes = [v for st in state['state'].values() for k, v in st.items() if k.endswith('_codes')]
        opt.load_state_dict(copy.deepcopy(state))
        live = [v for st in opt.optim.state.values() for k, v in st.items() if k.endswith('_codes')]
        single = build_optimizer(model, ADAMW8, torch.device('cpu'))
        single.load_state_dict(copy.deepcopy(state))
        zero1 = {'inner': type(opt.optim).__name__, 'saved_codes': len(codes),
                 'codes_uint8': all(c.dtype == torch.uint8 for c in codes + live) and len(live) == len(codes) > 0,
                 'wrapper_copies': sum(len(v or {}) for v in opt.state.values()),
                 'single_process_loads': all(torch.equal(single.state[p]['exp_avg_codes'], opt.optim.state[p]['exp_avg_codes'])
                                             for p in model.parameters())}
    finally:
        dist.destroy_process_group()
        os.path.exists(store) and os.remove(store)
    ok = (bool(fsdp) and fsdp.startswith('E_BAD_COMMAND') and 'adamw-8bit' in fsdp and zero1['inner'] == 'AdamW8bit'
          and zero1['codes_uint8'] and zero1['wrapper_copies'] == 0 and zero1['single_process_loads'])
    return {'ok': ok and isinstance(build_optimizer(model, ADAMW8, torch.device('cpu'), 'ddp'), AdamW8bit),
            'fsdp': fsdp, 'zero1': zero1}


def main(path):
    torch.set_num_threads(2)
    ds = EncodedDataset(path)
    results = {'round_trip': check_round_trip(), 'reference': check_reference(), 'vs_adamw': check_vs_adamw(ds),
               'state_bytes': check_state_bytes(ds), 'resume': check_resume(ds), 'sharded': check_sharded()}
    ok = all(r['ok'] for r in results.values())
    print(json.dumps({'ok': ok, **results}))
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main(sys.argv[1]))
