"""The token head (`token`, NER): BERT, then dropout and Linear(hidden, num_labels) on every position's last hidden
state, with HF BertForTokenClassification's state-dict names (`bert.`, `classifier.`); its loss and what eval reads.

Pure tensor code: no file access, no protocol. The pooler is kept in the weights (pretrained folders carry it) but
never used or trained.
"""
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .data import IGNORE_INDEX
from .model import BertModel, configure_encoder, init_weights


class TokenClassifier(nn.Module):
    """BERT + a linear classifier on every position: logits [b, n, num_labels]."""

    head_kind = 'token'

    def __init__(self, cfg, num_labels, dropout, use_sdpa=False):
        super().__init__()
        self.num_labels = num_labels
        self.bert = BertModel(cfg, use_sdpa)
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(cfg['hidden_size'], num_labels)
        self.apply(lambda m: init_weights(m, cfg.get('initializer_range', 0.02)))

    def forward(self, input_ids, attention_mask, head_pos=None, tail_pos=None, lengths=None):
        """Logits [b, n, num_labels] at every position (padding included; the loss and eval skip it). The entity
        positions and lengths of the relation heads' signature are unused."""
        hidden, _ = self.bert(input_ids, attention_mask, with_pooler=False)
        return self.classifier(self.dropout(hidden))  # [b, n, h] -> [b, n, num_labels]

    def configure(self, grad_checkpointing, freeze_layers):
        """Checkpointing and frozen layers (see configure_encoder); the pooler is never trained."""
        configure_encoder(self, grad_checkpointing, freeze_layers, pooler_used=False)


def token_loss(logits, labels, units):
    """Mean cross-entropy over the `units` labelled positions (label != -100) of logits [b, n, L] and labels [b, n],
    in fp32; 0 (still attached to the graph) when nothing is labelled, where a plain mean would be 0/0 = NaN."""
    total = F.cross_entropy(logits.float().flatten(0, 1), labels.flatten(),  # [b, n, L] -> [b*n, L]; [b, n] -> [b*n]
                            ignore_index=IGNORE_INDEX, reduction='sum')
    return total / max(units, 1)


def read_tags(logits, positions, labels=None):
    """Eval's answer per row: [tag ids, their softmax probabilities] at the row's `positions` (host int64 arrays,
    read in order), from logits [b, n, L]; with `labels` [b, n] whose every position read is labelled (a data set's
    eval), a third list: the cross-entropy of the gold tag there (what token_loss sums), else None (predict's rows
    carry no labels). Only these positions leave the device, in one copy (a full logits tensor per token would be too
    big for JSON)."""
    logits = logits.float()  # fp32 whatever the autocast dtype
    probs = logits.softmax(dim=-1)  # [b, n, L]
    counts = [len(p) for p in positions]
    rows = torch.from_numpy(np.repeat(np.arange(len(positions)), counts)).to(probs.device)  # [k]
    cols = torch.from_numpy(np.concatenate(positions).astype(np.int64) if positions else np.zeros(0, np.int64))
    cols = cols.to(probs.device)
    score, tag = probs[rows, cols].max(dim=-1)  # [k, L] -> [k]
    picked = [tag.double(), score.double()]
    if labels is not None:
        gold = labels[rows, cols]  # [k]; -100 where nothing is labelled
        logp = logits[rows, cols].log_softmax(dim=-1)  # [k, L]
        nll = -logp.gather(1, gold.clamp(min=0)[:, None])[:, 0]  # [k, 1] -> [k]
        picked += [nll.double(), gold.double()]
    # the one device sync of this batch: [2 or 4, k] (tag ids and labels are exact in float64)
    host = torch.stack(picked).cpu().tolist() if counts else [[] for _ in picked]
    out, at = [], 0
    for k in counts:
        row = [[int(t) for t in host[0][at:at + k]], host[1][at:at + k]]
        if labels is not None:
            labelled = all(g != IGNORE_INDEX for g in host[3][at:at + k])
            row.append(host[2][at:at + k] if labelled else None)
        out.append(row)
        at += k
    return out
