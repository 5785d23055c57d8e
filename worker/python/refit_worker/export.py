"""`export_onnx`: the loaded model as an ONNX graph (torch.onnx.export), inputs named as the worker's batches.

Uses torch's TorchScript exporter on every torch (`dynamo=False` where the argument exists: torch 2.9+ defaults to
the dynamo exporter, which needs onnxscript). On torch 1.13 it needs nothing else; on torch 2.x it also imports the
`onnx` package, and its absence is one line naming it. Exports a CPU fp32 copy in eval mode with eager attention; the
live model (device, precision, train mode) is left as it was. The deepke-lm head's packed RNN is swapped in the copy
for export_rnn.UnpackedDeepkeRnn (same weights and numbers, a dynamic batch and sequence length in the graph). The
token head's graph takes input_ids and attention_mask and gives logits [batch, seq, num_labels] at every position
(the reader picks the positions it needs).
"""
import copy
import inspect
import os
import time

import torch

from .export_rnn import UnpackedDeepkeRnn
from .protocol import E_BAD_COMMAND, E_EXPORT, WorkerError, make_event

# Graph inputs, as the worker's batches name them; deepke-lm also takes the true lengths (its RNN runs by them).
INPUT_NAMES = ('input_ids', 'attention_mask', 'head_pos', 'tail_pos')
# Oldest opset accepted: 11 has the indexing (Gather/Range) the heads trace to; newer ones only fuse more.
MIN_OPSET = 11


class _Logits(torch.nn.Module):
    """The model with every input explicit (no `None` mask), so the traced graph always takes a mask."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, input_ids, attention_mask, head_pos, tail_pos, lengths=None):
        return self.model(input_ids, attention_mask, head_pos, tail_pos, lengths)


class _TokenLogits(torch.nn.Module):
    """The token head with its two inputs only (it reads no entity positions): logits [b, n, num_labels]."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, input_ids, attention_mask):
        return self.model(input_ids, attention_mask)


def _sample_inputs(model, with_lengths):
    """Two rows of 16 tokens, the second padded after 10, so tracing sees a mask that matters."""
    vocab = model.bert.embeddings.word_embeddings.num_embeddings
    ids = torch.randint(1, vocab, (2, 16), generator=torch.Generator().manual_seed(0))  # [b, n]
    lengths = torch.tensor([16, 10], dtype=torch.long)
    mask = (torch.arange(16)[None, :] < lengths[:, None]).long()  # [1, n] < [b, 1] -> [b, n]
    ids = ids * mask
    args = (ids, mask, torch.tensor([1, 2]), torch.tensor([3, 4]))
    return args + (lengths,) if with_lengths else args


def export_onnx(model, path, opset):
    """Write `model` to `path` (atomically); returns the `exported` event."""
    if not isinstance(opset, int) or opset < MIN_OPSET:
        raise WorkerError(E_BAD_COMMAND, f'export_onnx: opset {opset!r} must be an integer >= {MIN_OPSET}')
    started = time.perf_counter()
    cpu = copy.deepcopy(model).float().cpu().eval()  # the live model keeps its device, dtype and mode
    for module in cpu.modules():
        if hasattr(module, 'use_sdpa'):
            module.use_sdpa = False  # eager attention traces to plain MatMul/Softmax on every torch and opset
    kind = getattr(cpu, 'head_kind', None)
    with_lengths = kind == 'deepke-lm'
    names = list(INPUT_NAMES) + (['lengths'] if with_lengths else [])
    sample = _sample_inputs(cpu, with_lengths)
    wrapped = _Logits(cpu)
    if kind == 'token':
        names, sample, wrapped = names[:2], sample[:2], _TokenLogits(cpu)
    axes = {n: ({0: 'batch', 1: 'seq'} if n in ('input_ids', 'attention_mask') else {0: 'batch'}) for n in names}
    axes['logits'] = {0: 'batch', 1: 'seq'} if kind == 'token' else {0: 'batch'}
    tmp = f'{path}.tmp-{os.getpid()}'
    extra = {'dynamo': False} if 'dynamo' in inspect.signature(torch.onnx.export).parameters else {}
    try:
        if with_lengths:
            # The packed RNN traces with the sample batch baked in: the copy gets the same weights, run unpacked.
            cpu.bilstm = UnpackedDeepkeRnn(cpu.bilstm).eval()
        with torch.no_grad():
            torch.onnx.export(wrapped, sample, tmp, input_names=names,
                              output_names=['logits'], dynamic_axes=axes, opset_version=opset,
                              do_constant_folding=True, **extra)
        os.replace(tmp, path)
    except Exception as e:
        if os.path.exists(tmp):
            os.unlink(tmp)
        first = (str(e).splitlines() or [''])[0]
        if 'onnx is not installed' in first:
            raise WorkerError(E_EXPORT, f'torch {torch.__version__} exports ONNX through the onnx package, which this '
                              f'Python lacks: pip install onnx (or your system\'s python3-onnx)') from e
        raise WorkerError(E_EXPORT, f'torch.onnx.export failed: {type(e).__name__}: {first}') from e
    return make_event('exported', path=path, opset=opset, bytes=os.path.getsize(path),
                      seconds=time.perf_counter() - started)
