"""In-process checks of the token head (NER) against plain torch; run by test/worker/token-head.test.ts.

Usage: python3 check_token_head.py NER.refit-ds OUT_DIR   (worker/python on PYTHONPATH; the TS test encodes the file)
Prints one JSON object {check: {ok, ...}}; exits 1 when a check fails. Also writes OUT_DIR/token.onnx (export_onnx of
a token head) and OUT_DIR/torch-logits.json (that model's torch logits on BATCHES) for the TS test to run in
onnxruntime-node.
"""
import copy
import json
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

from refit_worker.data import EncodedDataset
from refit_worker.export import export_onnx
from refit_worker.trainer import Trainer

CONFIG = {'vocab_size': 21128, 'hidden_size': 32, 'num_hidden_layers': 2, 'num_attention_heads': 4,
          'intermediate_size': 64, 'max_position_embeddings': 128, 'type_vocab_size': 2,
          'hidden_dropout_prob': 0.0, 'attention_probs_dropout_prob': 0.0}
SGD = {'kind': 'sgd', 'lr': 1.0, 'weight_decay': 0.0, 'betas': [0.9, 0.999], 'eps': 1e-8}
# Rows of unequal lengths, padded to more than their longest (ONNX: another batch size and length than the trace).
BATCHES = [{'indices': [0], 'seq_len': 0}, {'indices': [1, 2, 3, 4, 5], 'seq_len': 0},
           {'indices': [6, 7, 8], 'seq_len': 96}]


def load_cmd(num_labels, dropout=0.0, **over):
    cfg = dict(CONFIG, hidden_dropout_prob=dropout, attention_probs_dropout_prob=dropout)
    cmd = {'type': 'load', 'config': cfg, 'head': {'kind': 'token', 'num_labels': num_labels, 'dropout': dropout},
           'seed': 5, 'device': 'cpu', 'precision': 'fp32', 'attention': 'eager', 'grad_checkpointing': False,
           'freeze_layers': 0, 'max_grad_norm': 0.0, 'schedule': {'warmup_steps': 0, 'total_steps': 10},
           'optimizer': dict(SGD)}
    return {**cmd, **over}


def plain_batch(ds, indices, seq_len=None):
    """input_ids, attention_mask and labels [b, n] read straight from the file's arrays (not through batch())."""
    a = ds.arrays
    rows = [(int(a['offsets'][i]), int(a['lengths'][i])) for i in indices]
    n = seq_len or max(length for _, length in rows)
    ids = torch.zeros((len(rows), n), dtype=torch.long)
    mask = torch.zeros((len(rows), n), dtype=torch.long)
    labels = torch.full((len(rows), n), -100, dtype=torch.long)
    for r, (start, length) in enumerate(rows):
        ids[r, :length] = torch.from_numpy(np.asarray(a['input_ids'][start:start + length], dtype=np.int64))
        labels[r, :length] = torch.from_numpy(np.asarray(a['label_ids'][start:start + length], dtype=np.int64))
        mask[r, :length] = 1
    return ids, mask, labels


def reference(model, ds, indices):
    """Plain torch: CrossEntropyLoss(ignore_index=-100) (the mean over the labelled tokens of the whole batch) on
    the model's logits, and its gradients by name."""
    model = copy.deepcopy(model)
    ids, mask, labels = plain_batch(ds, indices)
    logits = model(ids, mask)  # [b, n, L]
    loss = torch.nn.CrossEntropyLoss(ignore_index=-100)(logits.view(-1, logits.shape[-1]), labels.view(-1))
    loss.backward()
    return loss.item(), {k: p.grad.clone() for k, p in model.named_parameters() if p.grad is not None}


def step_grads(trainer, ds, split, cont=False, logical=None):
    """One train_step over `split` (lists of indices, each micro-batch padded to its longest; `cont`: a `continue`
    of a logical batch of `logical` examples): (the step event, the gradients the optimizer stepped with, by name)."""
    seen = {}
    inner = trainer.optimizer.step

    def spy(*args, **kwargs):  # after unscale and clipping (both no-ops here: fp32, max_grad_norm 0)
        seen.update({k: p.grad.clone() for k, p in trainer.model.named_parameters() if p.grad is not None})
        return inner(*args, **kwargs)
    trainer.optimizer.step = spy
    micro = [{'indices': m, 'seq_len': int(max(ds.arrays['lengths'][i] for i in m))} for m in split]
    event = trainer.train_step({'type': 'train_step', 'step': 1, 'dataset': 'd', 'micro_batches': micro,
                                'continue': cont, 'logical_batch_size': logical or sum(len(m) for m in split)}, ds)
    trainer.optimizer.step = inner
    return event, seen


def relative(a, b):
    """||a - b|| / ||a|| over every tensor of two gradient maps, in float64."""
    num = sum(((a[k].double() - b[k].double()) ** 2).sum().item() for k in a)
    den = sum((a[k].double() ** 2).sum().item() for k in a)
    return (num / den) ** 0.5


# fp32 sums regrouped (one batch or two micro-batches, another padding) move a gradient by a few units of
# roundoff relative to its size (measured: about 1.5e-7); 1e-6 is far below what a wrong normalisation does:
# averaging per micro-batch instead of over the logical batch's labelled tokens (`per_micro`, micro-batches of 2 and
# 6 sentences) moves it by more than 100 times the tolerance, which the check requires so that it can see the bug.
GRAD_TOLERANCE = 1e-6


def check_loss_and_accumulation(ds, num_labels):
    """The step's loss equals plain torch's CrossEntropy(ignore_index=-100) on the same batch, and its gradients
    (one micro-batch, or two of unequal labelled-token counts) equal plain torch's."""
    everything = list(range(8))
    base = Trainer(load_cmd(num_labels))
    ref_loss, ref_grads = reference(base.model, ds, everything)
    one_event, one = step_grads(Trainer(load_cmd(num_labels)), ds, [everything])
    two_event, two = step_grads(Trainer(load_cmd(num_labels)), ds, [everything[:2], everything[2:]])
    # What averaging per micro-batch would give (the bug this normalisation avoids): the mean of the two means.
    _, g_a = reference(base.model, ds, everything[:2])
    _, g_b = reference(base.model, ds, everything[2:])
    per_micro = relative(ref_grads, {k: (g_a[k] + g_b[k]) / 2 for k in ref_grads})
    counts = [ds.units(everything[:2]), ds.units(everything[2:])]
    diffs = {'loss_one': abs(one_event['loss'] - ref_loss) / ref_loss,
             'loss_two': abs(two_event['loss'] - ref_loss) / ref_loss,
             'grads_one': relative(ref_grads, one), 'grads_two': relative(ref_grads, two)}
    return {'ok': all(d <= GRAD_TOLERANCE for d in diffs.values()) and per_micro > 100 * GRAD_TOLERANCE
            and sorted(one) == sorted(ref_grads),
            'reference_loss': ref_loss, 'labelled': counts, 'per_micro_batch_mean_diff': per_micro, **diffs}


def check_oom_continue(ds, num_labels):
    """An OOM in the backward of micro-batch 2 of [0, 1], [2, 3], [4..7], continued as [2], [3], [4..7]: the kept
    micro-batch 1 and the re-split rest are each scaled by their share of the labelled tokens of the whole logical
    batch (counted when the step began, not from the continue's micro-batches), so loss and gradients are plain
    torch's over all 8 sentences."""
    trainer = Trainer(load_cmd(num_labels))
    ref_loss, ref_grads = reference(trainer.model, ds, list(range(8)))
    calls = {'n': 0}

    def fail_second_backward(grad):
        calls['n'] += 1
        if calls['n'] == 2:  # the hook fires once per backward: raise mid-backward of micro-batch 2
            raise RuntimeError('CUDA out of memory. Tried to allocate 2.00 MiB (simulated in backward)')
        return grad
    handle = trainer.model.bert.encoder.layer[0].attention.self.query.weight.register_hook(fail_second_backward)
    micro = [{'indices': m, 'seq_len': 64} for m in ([0, 1], [2, 3], [4, 5, 6, 7])]
    oom = trainer.train_step({'type': 'train_step', 'step': 1, 'dataset': 'd', 'micro_batches': micro,
                              'logical_batch_size': 8}, ds)
    handle.remove()
    event, grads = step_grads(trainer, ds, [[2], [3], [4, 5, 6, 7]], cont=True, logical=8)
    diffs = {'loss': abs(event['loss'] - ref_loss) / ref_loss, 'grads': relative(ref_grads, grads)}
    return {'ok': oom['type'] == 'oom' and oom['completed_micro_batches'] == 1 and event['type'] == 'step'
            and all(d <= GRAD_TOLERANCE for d in diffs.values()), **diffs}


def check_eval(ds, num_labels):
    """eval's tags and scores are argmax and softmax of plain torch's logits (eval mode) at the labelled positions."""
    trainer = Trainer(load_cmd(num_labels, dropout=0.1))
    model = copy.deepcopy(trainer.model).eval()
    batches = [{'indices': [0, 1, 2, 3], 'seq_len': 96}, {'indices': [4, 5, 6, 7, 8], 'seq_len': 100}]
    event = trainer.evaluate({'type': 'eval', 'dataset': 'd', 'tag': 't', 'batches': batches}, ds)
    tags_ok, worst, worst_nll, rows = True, 0.0, 0.0, 0
    ce_sum, units = 0.0, 0
    for b in batches:
        ids, mask, labels = plain_batch(ds, b['indices'], b['seq_len'])
        with torch.no_grad():
            logits = model(ids, mask)  # [b, n, L]
            probs = logits.softmax(-1)  # [b, n, L]
            ce = F.cross_entropy(logits.flatten(0, 1), labels.flatten(), reduction='none')  # [b*n], 0 at -100
        ce = ce.view(labels.shape)  # [b*n] -> [b, n]
        ce_sum += ce.sum().item()
        units += int((labels != -100).sum())
        for r in range(len(b['indices'])):
            where = (labels[r] != -100).nonzero().flatten()
            want = probs[r, where]  # [k, L]
            tags_ok &= event['tags'][rows] == want.argmax(-1).tolist()
            worst = max(worst, (torch.tensor(event['scores'][rows]) - want.max(-1).values).abs().max().item())
            worst_nll = max(worst_nll, (torch.tensor(event['nll'][rows], dtype=torch.float64)
                                        - ce[r, where].double()).abs().max().item())
            rows += 1
    # The eval loss TS reports: the mean of `nll` over the labelled positions; plain torch's token cross-entropy.
    mean_nll = sum(sum(r) for r in event['nll']) / sum(len(r) for r in event['nll'])
    loss_diff = abs(mean_nll - ce_sum / units)
    # Probabilities in fp32 of the same batches: only the reduction order of the padding mask differs (≤ a few U).
    return {'ok': bool(tags_ok) and worst <= 1e-6 and worst_nll <= 1e-6 and loss_diff <= 1e-6 and rows == 9
            and 'logits' not in event and mean_nll > 0,
            'max_score_diff': worst, 'max_nll_diff': worst_nll, 'loss_diff': loss_diff, 'rows': rows}


def write_onnx_case(ds, num_labels, out_dir):
    """A token head one step into training (dropout 0.1, export in eval mode) exported to token.onnx, and its torch
    logits on BATCHES (eval mode) in torch-logits.json."""
    trainer = Trainer(load_cmd(num_labels, dropout=0.1, optimizer={**SGD, 'lr': 0.1}))
    step_grads(trainer, ds, [list(range(8))])
    event = export_onnx(trainer.model, os.path.join(out_dir, 'token.onnx'), 17)
    model = copy.deepcopy(trainer.model).eval()
    batches, logits = [], []
    for b in BATCHES:
        b = dict(b, seq_len=b['seq_len'] or int(max(ds.arrays['lengths'][i] for i in b['indices'])))
        ids, mask, _ = plain_batch(ds, b['indices'], b['seq_len'])
        with torch.no_grad():
            logits.append(model(ids, mask).tolist())  # [b, n, L]
        batches.append(b)
    with open(os.path.join(out_dir, 'torch-logits.json'), 'w') as f:
        json.dump({'batches': batches, 'logits': logits}, f)
    return {'ok': event['type'] == 'exported' and trainer.model.training, 'bytes': event['bytes']}


def main():
    ds = EncodedDataset(sys.argv[1])
    num_labels = len(ds.header['labels'])
    results = {'loss_and_accumulation': check_loss_and_accumulation(ds, num_labels),
               'oom_continue': check_oom_continue(ds, num_labels),
               'eval': check_eval(ds, num_labels),
               'onnx_case': write_onnx_case(ds, num_labels, sys.argv[2])}
    print(json.dumps(results))
    sys.exit(0 if all(r['ok'] for r in results.values()) else 1)


if __name__ == '__main__':
    main()
