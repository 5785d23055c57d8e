"""DeepKE LM checkpoints for tests, and DeepKE's forward on them, built from plain torch modules.

  python3 deepke_lm_reference.py make GOLDEN_TINY_BERT_DIR OUT.pth LAYERS LABELS [TYPE HIDDEN NUM_LAYERS BIDIRECTIONAL]
      writes a state dict the way DeepKE's LM saves one (torch.save(model.state_dict())): the golden tiny-BERT's first
      LAYERS layers under `bert.` (with the `bert.embeddings.position_ids` buffer older transformers save), a seeded
      random RNN under `bilstm.rnn.` and fc under `fc.`.
  python3 deepke_lm_reference.py forward CKPT.pth CONFIG_JSON INPUTS_JSON
      INPUTS_JSON: [{"ids": [...]}, ...] token ids ([CLS] ... [SEP]); prints [{"logits": [...], "probs": [...]}, ...]:
      BERT (this package's BertModel, HF-equal by check_parity.py, loaded strictly from `bert.*`) -> torch RNN over
      pack_padded_sequence -> last layer's final states -> fc, with no refit loading code in between.
Run with worker/python on PYTHONPATH.
"""
import json
import os
import sys

import torch
from torch import nn

from refit_worker.model import BertModel
from refit_worker.weights import read_safetensors


def rnn_module(kind, input_size, hidden, num_layers, bidirectional):
    """The RNN DeepKE's module/RNN.py builds (hidden is the total over directions)."""
    per_direction = hidden // 2 if bidirectional else hidden
    return getattr(nn, kind)(input_size, per_direction, num_layers=num_layers, bidirectional=bidirectional,
                             batch_first=True)


def make(golden, out, layers, labels, kind='LSTM', hidden=100, num_layers=1, bidirectional=True):
    bert, _ = read_safetensors(os.path.join(golden, 'model.safetensors'))
    state = {}
    for k, v in bert.items():
        if k.startswith('encoder.layer.') and int(k.split('.')[2]) >= layers:
            continue  # DeepKE loads BERT with num_hidden_layers=LAYERS: the other layers never exist
        state['bert.' + k] = v
    state['bert.embeddings.position_ids'] = torch.arange(512)[None]
    torch.manual_seed(1234)
    hidden_in = bert['embeddings.word_embeddings.weight'].shape[1]
    for k, v in rnn_module(kind, hidden_in, hidden, num_layers, bidirectional).state_dict().items():
        state['bilstm.rnn.' + k] = v
    fc = nn.Linear(hidden, labels)
    # Spread the logits so that the predicted relation is not decided by rounding.
    with torch.no_grad():
        fc.weight.mul_(8.0)
    state['fc.weight'], state['fc.bias'] = fc.weight.detach(), fc.bias.detach()
    torch.save(state, out)


def forward(ckpt, config_path, inputs_path):
    state = torch.load(ckpt, map_location='cpu')
    cfg = json.load(open(config_path))
    layers = 1 + max(int(k.split('.')[3]) for k in state if k.startswith('bert.encoder.layer.'))
    bert = BertModel({**cfg, 'num_hidden_layers': layers})
    bert.load_state_dict({k[len('bert.'):]: v for k, v in state.items()
                          if k.startswith('bert.') and not k.endswith('position_ids')})
    rnn_state = {k[len('bilstm.rnn.'):]: v for k, v in state.items() if k.startswith('bilstm.rnn.')}
    bidirectional = any(k.endswith('_reverse') for k in rnn_state)
    per_direction = rnn_state['weight_hh_l0'].shape[1]
    gates = rnn_state['weight_hh_l0'].shape[0] // per_direction
    kind = {4: 'LSTM', 3: 'GRU', 1: 'RNN'}[gates]
    num_layers = 1 + max(int(k.split('_l')[1].split('_')[0]) for k in rnn_state)
    rnn = rnn_module(kind, cfg['hidden_size'], per_direction * (2 if bidirectional else 1), num_layers, bidirectional)
    rnn.load_state_dict(rnn_state)
    fc = nn.Linear(state['fc.weight'].shape[1], state['fc.weight'].shape[0])
    fc.load_state_dict({'weight': state['fc.weight'], 'bias': state['fc.bias']})
    rows = [r['ids'] for r in json.load(open(inputs_path))]
    lengths = torch.tensor([len(r) for r in rows])
    n = int(lengths.max())
    ids = torch.tensor([r + [0] * (n - len(r)) for r in rows])  # DeepKE pads with 0 ([PAD])
    mask = (torch.arange(n)[None, :] < lengths[:, None]).long()  # [1, n] < [b, 1] -> [b, n]
    bert.eval()
    with torch.no_grad():
        hidden, _ = bert(ids, mask)
        packed = nn.utils.rnn.pack_padded_sequence(hidden, lengths, batch_first=True, enforce_sorted=False)
        _, hn = rnn(packed)
        h = hn[0] if isinstance(hn, tuple) else hn  # [layers * directions, b, per_direction]
        pooled = torch.cat([h[-2], h[-1]], dim=-1) if bidirectional else h[-1]  # last layer, both directions
        logits = fc(pooled)  # dropout is the identity in eval mode
    print(json.dumps([{'logits': row.tolist(), 'probs': row.softmax(-1).tolist()} for row in logits]))


if __name__ == '__main__':
    if sys.argv[1] == 'make':
        extra = sys.argv[6:]
        make(sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]),
             *([extra[0], int(extra[1]), int(extra[2]), extra[3] == 'true'] if extra else []))
    else:
        forward(sys.argv[2], sys.argv[3], sys.argv[4])
