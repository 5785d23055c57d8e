"""BERT encoder in plain torch with Hugging Face state-dict names, and the relation heads (the token head: token_head).

Pure modules: no file access, no protocol. Post-LN BERT with erf GELU, eager or SDPA attention,
optional per-layer gradient checkpointing (non-reentrant) and frozen lower layers.
"""
import inspect
import math

import torch
import torch.nn.functional as F
import torch.utils.checkpoint as torch_checkpoint
from torch import nn

# Feature detection, never version strings: torch 1.13 has neither SDPA nor fused AdamW.
HAS_SDPA = hasattr(F, 'scaled_dot_product_attention')
_CHECKPOINT_KWARGS = ({'use_reentrant': False}
                      if 'use_reentrant' in inspect.signature(torch_checkpoint.checkpoint).parameters
                      else {})


class BertEmbeddings(nn.Module):
    """Word + position + token-type embeddings, LayerNorm, dropout."""

    def __init__(self, cfg):
        super().__init__()
        h = cfg['hidden_size']
        # padding_idx as in HF: the [PAD] row gets no gradient (the golden gradients depend on it).
        self.word_embeddings = nn.Embedding(cfg['vocab_size'], h,
                                            padding_idx=cfg.get('pad_token_id', 0))
        self.position_embeddings = nn.Embedding(cfg['max_position_embeddings'], h)
        self.token_type_embeddings = nn.Embedding(cfg['type_vocab_size'], h)
        self.LayerNorm = nn.LayerNorm(h, eps=cfg.get('layer_norm_eps', 1e-12))
        self.dropout = nn.Dropout(cfg.get('hidden_dropout_prob', 0.1))

    def forward(self, input_ids, token_type_ids):
        positions = torch.arange(input_ids.shape[1], device=input_ids.device)
        x = (self.word_embeddings(input_ids) + self.position_embeddings(positions)[None]
             + self.token_type_embeddings(token_type_ids))
        return self.dropout(self.LayerNorm(x))


class BertSelfAttention(nn.Module):
    """Multi-head self-attention; `use_sdpa` selects torch's fused kernels when present."""

    def __init__(self, cfg, use_sdpa):
        super().__init__()
        h = cfg['hidden_size']
        self.num_heads = cfg['num_attention_heads']
        self.head_dim = h // self.num_heads
        self.query = nn.Linear(h, h)
        self.key = nn.Linear(h, h)
        self.value = nn.Linear(h, h)
        self.dropout_p = cfg.get('attention_probs_dropout_prob', 0.1)
        self.use_sdpa = use_sdpa and HAS_SDPA

    def _heads(self, x):
        b, n, _ = x.shape
        return x.view(b, n, self.num_heads, self.head_dim).transpose(1, 2)  # [b, n, h] -> [b, heads, n, d]

    def forward(self, x, keep):
        """x: [b, n, h]; keep: bool [b, 1, 1, n], True for real keys, or None when nothing is padding."""
        q, k, v = self._heads(self.query(x)), self._heads(self.key(x)), self._heads(self.value(x))
        p = self.dropout_p if self.training else 0.0
        if self.use_sdpa:
            # A boolean mask broadcast over heads and queries keeps the memory-efficient kernel usable;
            # without padding no mask is passed, so the flash kernel is eligible too. A boolean mask is
            # dtype-free, so it also works under autocast.
            ctx = F.scaled_dot_product_attention(q, k, v, attn_mask=keep, dropout_p=p)
        else:
            scores = q @ k.transpose(-1, -2) / math.sqrt(self.head_dim)  # [b, heads, n, d] @ [b, heads, d, n]
            if keep is not None:
                scores = scores.masked_fill(~keep, torch.finfo(scores.dtype).min)
            probs = F.dropout(scores.softmax(dim=-1), p=p, training=self.training)
            ctx = probs @ v
        b, _, n, _ = ctx.shape
        return ctx.transpose(1, 2).reshape(b, n, -1)  # [b, heads, n, d] -> [b, n, h]


class BertAddNorm(nn.Module):
    """dense -> dropout -> residual add -> LayerNorm (HF's BertSelfOutput / BertOutput)."""

    def __init__(self, cfg, d_in):
        super().__init__()
        self.dense = nn.Linear(d_in, cfg['hidden_size'])
        self.LayerNorm = nn.LayerNorm(cfg['hidden_size'], eps=cfg.get('layer_norm_eps', 1e-12))
        self.dropout = nn.Dropout(cfg.get('hidden_dropout_prob', 0.1))

    def forward(self, x, residual):
        return self.LayerNorm(self.dropout(self.dense(x)) + residual)


class BertAttention(nn.Module):
    """Self-attention plus its output projection; `self` is HF's submodule name."""

    def __init__(self, cfg, use_sdpa):
        super().__init__()
        self.self = BertSelfAttention(cfg, use_sdpa)
        self.output = BertAddNorm(cfg, cfg['hidden_size'])

    def forward(self, x, keep):
        return self.output(self.self(x, keep), x)


class BertIntermediate(nn.Module):
    """The feed-forward expansion with erf GELU (HF's "gelu")."""

    def __init__(self, cfg):
        super().__init__()
        self.dense = nn.Linear(cfg['hidden_size'], cfg['intermediate_size'])

    def forward(self, x):
        return F.gelu(self.dense(x))


class BertLayer(nn.Module):
    """One post-LN transformer layer."""

    def __init__(self, cfg, use_sdpa):
        super().__init__()
        self.attention = BertAttention(cfg, use_sdpa)
        self.intermediate = BertIntermediate(cfg)
        self.output = BertAddNorm(cfg, cfg['intermediate_size'])

    def forward(self, x, keep):
        a = self.attention(x, keep)
        return self.output(self.intermediate(a), a)


class BertEncoder(nn.Module):
    """The layer stack; checkpointing recomputes each trainable layer in backward."""

    def __init__(self, cfg, use_sdpa):
        super().__init__()
        self.layer = nn.ModuleList(BertLayer(cfg, use_sdpa) for _ in range(cfg['num_hidden_layers']))
        self.gradient_checkpointing = False
        self.frozen_layers = 0

    def forward(self, x, keep):
        for i, layer in enumerate(self.layer):
            if i < self.frozen_layers:
                # Frozen layers keep no activations for backward: nothing below them needs gradients.
                with torch.no_grad():
                    x = layer(x, keep)
            elif self.gradient_checkpointing and self.training and torch.is_grad_enabled():
                # preserve_rng_state (default) replays the same dropout masks in the recomputation.
                x = torch_checkpoint.checkpoint(layer, x, keep, **_CHECKPOINT_KWARGS)
            else:
                x = layer(x, keep)
        return x


class BertPooler(nn.Module):
    """tanh(dense(hidden state of [CLS]))."""

    def __init__(self, cfg):
        super().__init__()
        self.dense = nn.Linear(cfg['hidden_size'], cfg['hidden_size'])

    def forward(self, x):
        return torch.tanh(self.dense(x[:, 0]))


class BertModel(nn.Module):
    """HF `BertModel`: returns (last_hidden_state [b, n, h], pooler_output [b, h])."""

    def __init__(self, cfg, use_sdpa=False):
        super().__init__()
        self.embeddings = BertEmbeddings(cfg)
        self.encoder = BertEncoder(cfg, use_sdpa)
        self.pooler = BertPooler(cfg)

    def forward(self, input_ids, attention_mask=None, token_type_ids=None, with_pooler=True):
        """attention_mask [b, n] (1 = real token) or None for a batch without padding."""
        if token_type_ids is None:
            token_type_ids = torch.zeros_like(input_ids)
        keep = None if attention_mask is None else attention_mask.bool()[:, None, None, :]  # [b, n] -> [b, 1, 1, n]
        if self.encoder.frozen_layers > 0:
            with torch.no_grad():
                x = self.embeddings(input_ids, token_type_ids)
        else:
            x = self.embeddings(input_ids, token_type_ids)
        x = self.encoder(x, keep)
        return x, (self.pooler(x) if with_pooler else None)


def configure_encoder(model, grad_checkpointing, freeze_layers, pooler_used):
    """Turn checkpointing on/off and freeze embeddings + the lowest `freeze_layers` layers of `model.bert`.

    An unused pooler is kept in the weights (HF and DeepKE state dicts carry it) but never trained.
    """
    model.bert.encoder.gradient_checkpointing = bool(grad_checkpointing)
    model.bert.encoder.frozen_layers = int(freeze_layers)
    frozen = [model.bert.embeddings] + list(model.bert.encoder.layer[:freeze_layers]) if freeze_layers else []
    if not pooler_used:
        frozen.append(model.bert.pooler)
    for p in model.parameters():
        p.requires_grad_(True)
    for module in frozen:
        for p in module.parameters():
            p.requires_grad_(False)


class RelationClassifier(nn.Module):
    """BERT + relation head; state-dict layout of HF BertForSequenceClassification (`bert.`, `classifier.`)."""

    def __init__(self, cfg, head_kind, num_labels, dropout, use_sdpa=False):
        super().__init__()
        if head_kind not in ('entity-start', 'cls'):
            raise ValueError(f'unknown head kind {head_kind!r}')
        self.head_kind = head_kind
        self.num_labels = num_labels
        self.bert = BertModel(cfg, use_sdpa)
        self.dropout = nn.Dropout(dropout)
        width = 2 * cfg['hidden_size'] if head_kind == 'entity-start' else cfg['hidden_size']
        self.classifier = nn.Linear(width, num_labels)
        self.apply(lambda m: init_weights(m, cfg.get('initializer_range', 0.02)))

    def forward(self, input_ids, attention_mask, head_pos, tail_pos, lengths=None):
        """Logits [b, num_labels]; head_pos/tail_pos: [b] indices of the entity start markers (lengths unused)."""
        hidden, pooled = self.bert(input_ids, attention_mask, with_pooler=self.head_kind == 'cls')
        if self.head_kind == 'entity-start':
            rows = torch.arange(hidden.shape[0], device=hidden.device)
            features = torch.cat([hidden[rows, head_pos], hidden[rows, tail_pos]], dim=-1)  # [b, 2h]
        else:
            features = pooled
        return self.classifier(self.dropout(features))

    def configure(self, grad_checkpointing, freeze_layers):
        """Checkpointing and frozen layers (see configure_encoder); entity-start leaves the pooler untrained."""
        configure_encoder(self, grad_checkpointing, freeze_layers, pooler_used=self.head_kind == 'cls')


# DeepKE's `type_rnn` values -> torch modules (DeepKE evaluates `nn.{type_rnn}`; a table does the same safely).
RNN_TYPES = {'LSTM': nn.LSTM, 'GRU': nn.GRU, 'RNN': nn.RNN}


class DeepkeRnn(nn.Module):
    """DeepKE's module/RNN.py: a batch-first RNN over the packed true lengths, pooled to its final hidden states.

    `hidden_size` is the total; each direction gets half of it when bidirectional. The torch module is `rnn`, so
    the state dict matches DeepKE's `bilstm.rnn.weight_ih_l0`, `..._reverse`, ... under the LM's `bilstm`.
    """

    def __init__(self, input_size, spec):
        super().__init__()
        self.bidirectional = bool(spec['bidirectional'])
        self.num_layers = int(spec['num_layers'])
        self.last_layer_hn = bool(spec['last_layer_hn'])
        self.per_direction = spec['hidden_size'] // 2 if self.bidirectional else spec['hidden_size']
        # torch applies RNN dropout between stacked layers only; with one layer DeepKE's 0.3 does nothing but
        # warn, so it is passed as 0 there (same weights, same maths).
        self.rnn = RNN_TYPES[spec['type']](input_size=input_size, hidden_size=self.per_direction,
                                           num_layers=self.num_layers,
                                           dropout=float(spec['dropout']) if self.num_layers > 1 else 0.0,
                                           bidirectional=self.bidirectional, bias=True, batch_first=True)

    def forward(self, x, lengths):
        """x: [b, n, input_size]; lengths: [b] int64 true lengths (any order). Returns [b, hidden_size]."""
        # DeepKE sorts each batch by length and packs with enforce_sorted=True; enforce_sorted=False sorts
        # inside torch and unsorts the final states, which gives the same numbers without reordering the batch.
        # The RNN runs in fp32 outside autocast, as in DeepKE: it is small next to BERT, and cuDNN's RNN kernels
        # do not take every autocast dtype (bf16).
        with torch.autocast(device_type=x.device.type, enabled=False):
            packed = nn.utils.rnn.pack_padded_sequence(x.float(), lengths.cpu(), batch_first=True,
                                                       enforce_sorted=False)
            _, hn = self.rnn(packed)
        if isinstance(hn, tuple):  # LSTM: (h_n, c_n); DeepKE pools h_n
            hn = hn[0]
        b, layers, h = x.shape[0], self.num_layers, self.per_direction
        if self.bidirectional:
            # [layers*2, b, h] -> [layers, 2, b, h] -> [layers, b, 2, h] -> [layers, b, 2h] -> [b, layers, 2h]
            hn = hn.view(layers, 2, b, h).transpose(1, 2).reshape(layers, b, 2 * h).transpose(0, 1)
        else:
            hn = hn.transpose(0, 1)  # [layers, b, h] -> [b, layers, h]
        # The last layer's final states. DeepKE's last_layer_hn=false returns every layer ([b, layers, hidden]),
        # which its LM cannot train on (fc gives [b, layers, n] and CrossEntropy rejects it); with one layer
        # both settings are this same tensor, and the TS side refuses false with more than one layer.
        return hn[:, -1]


class DeepkeLM(nn.Module):
    """DeepKE's LM model: BERT (no token types, mask from lengths) -> RNN -> dropout -> fc.

    State dict as DeepKE saves it: `bert.*`, `bilstm.rnn.*`, `fc.*` (the pooler is kept, never used).
    """

    head_kind = 'deepke-lm'

    def __init__(self, cfg, num_labels, dropout, rnn, use_sdpa=False):
        super().__init__()
        self.num_labels = num_labels
        self.rnn_spec = dict(rnn)
        self.bert = BertModel(cfg, use_sdpa)
        self.bert.apply(lambda m: init_weights(m, cfg.get('initializer_range', 0.02)))
        # The RNN and fc keep torch's default initialisation, as in DeepKE.
        self.bilstm = DeepkeRnn(cfg['hidden_size'], rnn)
        self.fc = nn.Linear(rnn['hidden_size'], num_labels)
        self.dropout = nn.Dropout(dropout)

    def forward(self, input_ids, attention_mask, head_pos, tail_pos, lengths=None):
        """Logits [b, num_labels]; lengths [b] are the true lengths (entity positions are unused)."""
        if lengths is None:
            lengths = torch.full((input_ids.shape[0],), input_ids.shape[1], dtype=torch.long)
        hidden, _ = self.bert(input_ids, attention_mask, with_pooler=False)
        return self.fc(self.dropout(self.bilstm(hidden, lengths)))

    def configure(self, grad_checkpointing, freeze_layers):
        """Checkpointing and frozen layers (see configure_encoder); the pooler is never trained."""
        configure_encoder(self, grad_checkpointing, freeze_layers, pooler_used=False)


def _token_classifier(cfg, h, sdpa):
    from .token_head import TokenClassifier  # here, not at the top: token_head builds on this module's BertModel
    return TokenClassifier(cfg, h['num_labels'], h['dropout'], sdpa)


# Head kind -> constructor from (BERT config, head spec {kind, num_labels, dropout, rnn?}, use_sdpa).
HEADS = {
    'entity-start': lambda cfg, h, sdpa: RelationClassifier(cfg, 'entity-start', h['num_labels'], h['dropout'], sdpa),
    'cls': lambda cfg, h, sdpa: RelationClassifier(cfg, 'cls', h['num_labels'], h['dropout'], sdpa),
    'deepke-lm': lambda cfg, h, sdpa: DeepkeLM(cfg, h['num_labels'], h['dropout'], h['rnn'], sdpa),
    'token': _token_classifier,
}


def build_model(cfg, head, use_sdpa=False):
    """The model for a `load` command's head spec (kind checked by the caller against HEADS)."""
    return HEADS[head['kind']](cfg, head, use_sdpa)


def init_weights(module, std):
    """HF's BERT initialisation: normal(0, std) weights, zero biases, unit LayerNorm."""
    if isinstance(module, nn.Linear):
        nn.init.normal_(module.weight, 0.0, std)
        nn.init.zeros_(module.bias)
    elif isinstance(module, nn.Embedding):
        nn.init.normal_(module.weight, 0.0, std)
        if module.padding_idx is not None:
            with torch.no_grad():
                module.weight[module.padding_idx].zero_()
    elif isinstance(module, nn.LayerNorm):
        nn.init.ones_(module.weight)
        nn.init.zeros_(module.bias)
