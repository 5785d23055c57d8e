"""Parity check of the deepke-lm head: refit's DeepkeLM against a reference assembled from HF's golden tiny-BERT
outputs, torch.nn.LSTM/GRU/RNN over pack_padded_sequence, dropout (eval) and nn.Linear, all from one state dict.

Usage: python3 check_deepke_lm.py GOLDEN_TINY_BERT_DIR   (run with worker/python on PYTHONPATH)
The state dict is written as a DeepKE checkpoint (`bert.*`, `bilstm.rnn.*`, `fc.*`, torch.save) and read back the way
the worker reads one. Prints one JSON object with the max abs logit difference per case; exits 1 when one fails.
"""
import gzip
import json
import os
import sys
import tempfile

import torch
from torch import nn

from refit_worker.model import DeepkeLM
from refit_worker.weights import load_into, normalise_keys, read_safetensors

TOLERANCE = 1e-5  # fp32, eval mode: the same maths in a different order (measured ~1e-7)
NUM_LABELS = 11
# Rows 1..3 of the golden inputs: all-zero token types, as DeepKE feeds BERT (row 0 uses token type 1),
# lengths 20, 7, 32 (unsorted, two padded).
ROWS = slice(1, 4)

CASES = {
    'lstm-bi-1layer': dict(type='LSTM', hidden_size=100, num_layers=1, bidirectional=True, last_layer_hn=True),
    'lstm-bi-2layers': dict(type='LSTM', hidden_size=64, num_layers=2, bidirectional=True, last_layer_hn=True),
    'gru-bi-1layer': dict(type='GRU', hidden_size=100, num_layers=1, bidirectional=True, last_layer_hn=True),
    'rnn-uni-2layers': dict(type='RNN', hidden_size=50, num_layers=2, bidirectional=False, last_layer_hn=True),
    'lstm-bi-last_layer_hn-false': dict(type='LSTM', hidden_size=100, num_layers=1, bidirectional=True,
                                        last_layer_hn=False),
}


def deepke_state_dict(folder, spec, seed):
    """Golden BERT weights under `bert.` plus a seeded random RNN and fc under DeepKE's names."""
    bert, _ = read_safetensors(os.path.join(folder, 'model.safetensors'))
    state = {'bert.' + k: v for k, v in bert.items()}
    torch.manual_seed(seed)
    rnn = reference_rnn(spec, 128)
    state.update({'bilstm.rnn.' + k: v for k, v in rnn.state_dict().items()})
    fc = nn.Linear(spec['hidden_size'], NUM_LABELS)
    state.update({'fc.' + k: v for k, v in fc.state_dict().items()})
    return state


def reference_rnn(spec, input_size):
    """The torch RNN DeepKE builds for this spec."""
    per_direction = spec['hidden_size'] // 2 if spec['bidirectional'] else spec['hidden_size']
    return getattr(nn, spec['type'])(input_size, per_direction, num_layers=spec['num_layers'],
                                     bidirectional=spec['bidirectional'], batch_first=True)


def reference_logits(state, spec, hidden, lengths):
    """HF last_hidden_state -> packed RNN -> last layer's final states (both directions) -> dropout (eval) -> fc."""
    rnn = reference_rnn(spec, hidden.shape[-1])
    rnn.load_state_dict({k[len('bilstm.rnn.'):]: v for k, v in state.items() if k.startswith('bilstm.rnn.')})
    fc = nn.Linear(spec['hidden_size'], NUM_LABELS)
    fc.load_state_dict({'weight': state['fc.weight'], 'bias': state['fc.bias']})
    dropout = nn.Dropout(0.3).eval()
    packed = nn.utils.rnn.pack_padded_sequence(hidden, lengths, batch_first=True, enforce_sorted=False)
    _, hn = rnn(packed)
    h = hn[0] if isinstance(hn, tuple) else hn  # [layers * directions, b, per_direction]
    pooled = torch.cat([h[-2], h[-1]], dim=-1) if spec['bidirectional'] else h[-1]  # last layer: forward, backward
    return fc(dropout(pooled))


def check(folder, ref, name, spec, seed):
    """Max abs difference between refit's logits (from a DeepKE-format .pth) and the reference's."""
    cfg = json.load(open(os.path.join(folder, 'config.json')))
    state = deepke_state_dict(folder, spec, seed)
    ids = torch.tensor(ref['input_ids'])[ROWS]
    mask = torch.tensor(ref['attention_mask'])[ROWS]
    lengths = mask.sum(dim=1)
    hidden = torch.tensor(ref['last_hidden_state'])[ROWS]
    with torch.no_grad():
        want = reference_logits(state, spec, hidden, lengths)
        with tempfile.TemporaryDirectory() as tmp:
            pth = os.path.join(tmp, 'lm_epoch3.pth')
            torch.save(state, pth)
            tensors = normalise_keys(torch.load(pth, map_location='cpu'))
        model = DeepkeLM(cfg, NUM_LABELS, 0.3, {**spec, 'dropout': 0.3})
        load_into(model, tensors, name, strict_head=True)
        got = model.eval()(ids, mask, None, None, lengths)
    return {'max_abs': (got - want).abs().max().item(), 'scale': want.abs().max().item(),
            'argmax_equal': bool((got.argmax(-1) == want.argmax(-1)).all())}


def main(folder):
    ref = json.load(gzip.open(os.path.join(folder, 'reference.json.gz')))
    result = {name: check(folder, ref, name, spec, seed) for seed, (name, spec) in enumerate(CASES.items())}
    ok = all(r['max_abs'] <= TOLERANCE and r['argmax_equal'] for r in result.values())
    print(json.dumps({'ok': ok, 'tolerance': TOLERANCE, 'cases': result}))
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main(sys.argv[1]))
