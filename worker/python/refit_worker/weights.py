"""Weight files: a safetensors reader/writer in numpy + json, HF folder loading, atomic saving.

No `safetensors` or `transformers` package: the format is an 8-byte little-endian header length,
a JSON header {name: {dtype, shape, data_offsets}}, then the raw little-endian tensor bytes.
"""
import inspect
import json
import os
import struct

import numpy as np
import torch

from .protocol import E_CHECKPOINT_ARCH, E_MODEL_FILES, E_MODEL_VOCAB, WorkerError

# safetensors dtype -> (numpy dtype used to read the bytes, torch dtype to view them as).
# BF16 has no numpy dtype: read as int16 and reinterpret the bits in torch.
_DTYPES = {
    'F64': (np.float64, torch.float64),
    'F32': (np.float32, torch.float32),
    'F16': (np.float16, torch.float16),
    'BF16': (np.int16, torch.bfloat16),
    'I64': (np.int64, torch.int64),
    'I32': (np.int32, torch.int32),
    'I16': (np.int16, torch.int16),
    'I8': (np.int8, torch.int8),
    'U8': (np.uint8, torch.uint8),
    'BOOL': (np.bool_, torch.bool),
}
_TORCH_TO_ST = {torch_dtype: name for name, (_, torch_dtype) in _DTYPES.items()}

# Keys that HF checkpoints may carry but a BertModel does not need.
_IGNORED_PREFIXES = ('cls.', 'embeddings.position_ids', 'pooler.dense.position_ids')
# A pytorch_model.bin is a pickle from elsewhere: restrict it to tensors where torch can.
_BIN_LOAD_KW = {'weights_only': True} if 'weights_only' in inspect.signature(torch.load).parameters else {}


_MAX_HEADER_BYTES = 100 * 2 ** 20  # BERT-large's header is ~40 KB


def _bad(path, what):
    return WorkerError(E_MODEL_FILES, f'{path}: not a valid safetensors file: {what} (re-save or re-download it)')


def _check_header(path, header, data_size):
    """Every tensor's dtype, shape and byte range against the data section; raises E_MODEL_FILES naming the file."""
    if not isinstance(header, dict):
        raise _bad(path, 'header is not a JSON object')
    for name, spec in header.items():
        if name == '__metadata__':
            continue
        if not isinstance(spec, dict):
            raise _bad(path, f'tensor {name}: not an object')
        if spec.get('dtype') not in _DTYPES:
            raise _bad(path, f'tensor {name}: unknown dtype {spec.get("dtype")!r}')
        shape, offsets = spec.get('shape'), spec.get('data_offsets')
        if not isinstance(shape, list) or not all(isinstance(d, int) and d >= 0 for d in shape):
            raise _bad(path, f'tensor {name}: shape {shape!r} is not a list of sizes')
        if (not isinstance(offsets, list) or len(offsets) != 2 or not all(isinstance(x, int) and x >= 0 for x in offsets)
                or offsets[0] > offsets[1]):
            raise _bad(path, f'tensor {name}: data_offsets {offsets!r} are not [start, end]')
        numel = 1
        for d in shape:
            numel *= d
        nbytes = numel * np.dtype(_DTYPES[spec['dtype']][0]).itemsize
        if nbytes != offsets[1] - offsets[0]:
            raise _bad(path, f'tensor {name}: shape {shape} x {spec["dtype"]} is {nbytes} bytes but data_offsets span '
                       f'{offsets[1] - offsets[0]}')
        if offsets[1] > data_size:
            raise _bad(path, f'tensor {name} ends at byte {offsets[1]} of a {data_size}-byte data section (the file is truncated)')


def read_safetensors(path):
    """Read a .safetensors file into {name: CPU tensor} and its string metadata; a malformed file is E_MODEL_FILES."""
    size = os.path.getsize(path)
    if size < 8:
        raise _bad(path, f'{size} bytes, shorter than the 8-byte header length')
    with open(path, 'rb') as f:
        (header_len,) = struct.unpack('<Q', f.read(8))
        if header_len > size - 8:
            raise _bad(path, f'header length {header_len} is past the end of the {size}-byte file (truncated or not safetensors)')
        if header_len > _MAX_HEADER_BYTES:
            raise _bad(path, f'header length {header_len} bytes is implausible')
        raw = f.read(header_len)
    try:
        header = json.loads(raw)
    except ValueError as e:  # JSONDecodeError and UnicodeDecodeError alike
        raise _bad(path, f'header is not valid JSON ({type(e).__name__})') from e
    _check_header(path, header, size - 8 - header_len)
    header = dict(header)
    metadata = header.pop('__metadata__', None) or {}
    if not header:
        return {}, metadata
    # Memory-mapped: each tensor is copied once, so host memory peaks near the model size, not twice it.
    data = np.memmap(path, dtype=np.uint8, mode='r', offset=8 + header_len)
    tensors = {}
    for name, spec in header.items():
        np_dtype, torch_dtype = _DTYPES[spec['dtype']]
        start, end = spec['data_offsets']
        array = data[start:end].view(np.dtype(np_dtype).newbyteorder('<')).reshape(spec['shape'])
        tensor = torch.from_numpy(np.array(array))  # a private copy: the map is read-only
        tensors[name] = tensor.view(torch_dtype) if spec['dtype'] == 'BF16' else tensor
    return tensors, metadata


def write_safetensors(path, tensors, metadata=None):
    """Write {name: tensor} as .safetensors atomically (temp file + os.replace)."""
    header, blobs, offset = {}, [], 0
    for name in sorted(tensors):
        t = tensors[name].detach().cpu().contiguous()
        raw = (t.view(torch.int16) if t.dtype == torch.bfloat16 else t).numpy().tobytes()
        header[name] = {'dtype': _TORCH_TO_ST[t.dtype], 'shape': list(t.shape),
                        'data_offsets': [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    if metadata:
        header['__metadata__'] = {k: str(v) for k, v in metadata.items()}
    head = json.dumps(header, separators=(',', ':')).encode()
    head += b' ' * (-len(head) % 8)  # the data section starts 8-byte aligned
    with atomic_file(path) as f:
        f.write(struct.pack('<Q', len(head)))
        f.write(head)
        for raw in blobs:
            f.write(raw)


class atomic_file:
    """Context manager: write to PATH.tmp-PID, then os.replace onto PATH; remove the temp on failure."""

    def __init__(self, path, mode='wb'):
        self.path, self.mode = path, mode
        self.tmp = f'{path}.tmp-{os.getpid()}'

    def __enter__(self):
        self.f = open(self.tmp, self.mode)
        return self.f

    def __exit__(self, exc_type, exc, tb):
        self.f.close()
        if exc_type is None:
            os.replace(self.tmp, self.path)
        else:
            os.unlink(self.tmp)
        return False


def read_model_folder(path, config):
    """Load the encoder (and classifier, if saved) weights of an HF folder; check files and vocab size."""
    if not os.path.isdir(path):
        raise WorkerError(E_MODEL_FILES, f'{path}: model folder not found')
    if not os.path.isfile(os.path.join(path, 'config.json')):
        raise WorkerError(E_MODEL_FILES, f'{path}: no config.json in the model folder')
    vocab = os.path.join(path, 'vocab.txt')
    if os.path.isfile(vocab):
        with open(vocab, 'rb') as f:
            lines = sum(1 for _ in f)
        if lines != config['vocab_size']:
            raise WorkerError(E_MODEL_VOCAB, f'{vocab}: {lines} tokens but config.json says '
                              f'vocab_size {config["vocab_size"]}; use the vocabulary the model was trained with')
    st, binary = os.path.join(path, 'model.safetensors'), os.path.join(path, 'pytorch_model.bin')
    if os.path.isfile(st):
        tensors, metadata = read_safetensors(st)
    elif os.path.isfile(binary):
        try:
            tensors, metadata = torch.load(binary, map_location='cpu', **_BIN_LOAD_KW), {}
        except Exception as e:  # pickle, zip and torch errors alike: the file is not a state dict
            raise WorkerError(E_MODEL_FILES, f'{binary}: cannot read ({type(e).__name__}: '
                              f'{(str(e).splitlines() or [""])[0][:200]})') from e
    else:
        raise WorkerError(E_MODEL_FILES, f'{path}: no model.safetensors or pytorch_model.bin in the model folder')
    return normalise_keys(tensors), metadata


def normalise_keys(tensors):
    """Map checkpoint keys to ours: strip `module.` (nn.DataParallel, DeepKE's use_multi_gpu) and `bert.`,
    rename TF-era gamma/beta, drop unused HF keys."""
    out = {}
    for name, t in tensors.items():
        key = name[len('module.'):] if name.startswith('module.') else name
        key = key[len('bert.'):] if key.startswith('bert.') else key
        if key.startswith(_IGNORED_PREFIXES):
            continue
        key = key.replace('LayerNorm.gamma', 'LayerNorm.weight').replace('LayerNorm.beta', 'LayerNorm.bias')
        out[key] = t
    return out


def head_state(model):
    """The head's part of a model's state dict: every key outside `bert.` (`classifier.*`; `bilstm.rnn.*`, `fc.*`)."""
    return {k: v for k, v in model.state_dict().items() if not k.startswith('bert.')}


def load_into(model, tensors, where, strict_head=False):
    """Copy normalised weights into a model from model.HEADS; any missing or mis-shaped key is E_CHECKPOINT_ARCH.

    Head weights are loaded when present with this head's shapes (a refit-saved folder); with `strict_head`
    (restoring a run, importing a DeepKE checkpoint) they are required, and another shape is an error.
    """
    own = {k: v for k, v in model.bert.state_dict().items()}
    missing = [k for k in own if k not in tensors]
    if missing:
        raise WorkerError(E_CHECKPOINT_ARCH, f'{where}: not a BERT checkpoint of this shape: '
                          f'{len(missing)} weights missing, e.g. {missing[0]}')
    head = head_state(model)
    absent = [k for k in head if k not in tensors]
    if strict_head and absent:
        raise WorkerError(E_CHECKPOINT_ARCH, f'{where}: no {model.head_kind} head weights in the saved model '
                          f'({len(absent)} missing, e.g. {absent[0]})')
    head_fits = all(k in tensors and tuple(tensors[k].shape) == tuple(v.shape) for k, v in head.items())
    # Fine-tuning a saved refit model on another relation set starts a fresh head; restoring one may not.
    wanted = list(own.items()) + (list(head.items()) if head_fits or strict_head else [])
    for key, mine in wanted:
        if tuple(tensors[key].shape) != tuple(mine.shape):
            raise WorkerError(E_CHECKPOINT_ARCH, f'{where}: {key} has shape {list(tensors[key].shape)} '
                              f'but this model expects {list(mine.shape)} (another architecture or relation set)')
    with torch.no_grad():
        named = dict(model.named_parameters())
        for key, _ in wanted:
            name = key if key in head else 'bert.' + key
            value = tensors[key]
            if hasattr(named[name], 'device_mesh'):  # an fsdp shard: this rank's part of the whole tensor
                from .dist import distribute_like
                value = distribute_like(value, named[name])
            named[name].copy_(value)  # copy_ converts F16/BF16 weights to the fp32 master copy


def inspect_weights(path):
    """{name: {shape, dtype}} of a weight file as stored: .safetensors, or a torch pickle of a state dict."""
    if not os.path.isfile(path):
        raise WorkerError(E_MODEL_FILES, f'{path}: no such file')
    if path.endswith('.safetensors'):
        tensors, _ = read_safetensors(path)
    else:
        with open(path, 'rb') as f:
            magic = f.read(4)
        # torch.save writes a zip (PK\x03\x04) since 1.6, a pickle (protocol >= 2 starts with \x80) before.
        if magic[:4] != b'PK\x03\x04' and magic[:1] != b'\x80':
            raise WorkerError(E_MODEL_FILES, f'{path}: not a PyTorch checkpoint (neither the zip nor the pickle '
                              'that torch.save writes)')
        try:
            tensors = torch.load(path, map_location='cpu', **_BIN_LOAD_KW)
        except Exception as e:  # pickle, zip and torch errors alike: the file is not a state dict
            if 'weights only' in str(e).lower() or 'weights_only' in str(e):
                raise WorkerError(E_MODEL_FILES, f'{path}: holds Python objects besides tensors (a whole model saved '
                                  'with torch.save(model)?); refit reads state dicts only: save '
                                  'torch.save(model.state_dict(), path)') from e
            raise WorkerError(E_MODEL_FILES, f'{path}: not a PyTorch checkpoint ({type(e).__name__}: '
                              f'{(str(e).splitlines() or [""])[0][:200]})') from e
    if not isinstance(tensors, dict) or not tensors or not all(torch.is_tensor(v) for v in tensors.values()):
        what = (f'a dict with keys {", ".join(list(map(str, tensors))[:5])}' if isinstance(tensors, dict)
                else f'a {type(tensors).__name__}')
        raise WorkerError(E_MODEL_FILES, f'{path}: holds {what}, not a state dict of tensors '
                          '(save it with torch.save(model.state_dict(), path))')
    return {name: {'shape': list(t.shape), 'dtype': str(t.dtype).replace('torch.', '')} for name, t in tensors.items()}


def save_model_folder(path, model, config, step, tensors=None):
    """Write config.json and model.safetensors (`bert.`-prefixed encoder + head as the model names it), each atomically.
    `tensors`: the state dict to write when the model's own holds shards (fsdp gathers it first)."""
    os.makedirs(path, exist_ok=True)
    n = model.num_labels
    head = {'kind': model.head_kind, 'num_labels': n}
    if getattr(model, 'rnn_spec', None):
        head['rnn'] = dict(model.rnn_spec)
    cfg = {**config, 'model_type': 'bert', 'refit_head': head}
    # HF sizes its classifier from id2label; TS may pass real relation names in `config`.
    cfg.setdefault('id2label', {str(i): f'LABEL_{i}' for i in range(n)})
    cfg.setdefault('label2id', {v: int(k) for k, v in cfg['id2label'].items()})
    hf_class = {'cls': 'BertForSequenceClassification', 'token': 'BertForTokenClassification'}
    if model.head_kind in hf_class:  # entity-start and deepke-lm have no HF class
        cfg['architectures'] = [hf_class[model.head_kind]]
    with atomic_file(os.path.join(path, 'config.json'), 'w') as f:
        json.dump(cfg, f, indent=2)
    write_safetensors(os.path.join(path, 'model.safetensors'), model.state_dict() if tensors is None else tensors,
                      {'format': 'pt', 'refit_step': step})
