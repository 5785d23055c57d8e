"""The encoded dataset (docs/encoded-dataset.md), memory-mapped with numpy, and padded batches.

The worker never tokenizes: TS wrote token ids, entity positions, labels and lengths once.
"""
import json
import struct

import numpy as np
import torch

from .protocol import E_DATASET, WorkerError

_MAGIC = b'REFITDS1'
_ARRAYS = ('offsets', 'input_ids', 'lengths', 'head_pos', 'tail_pos', 'labels')


class EncodedDataset:
    """A read-only view of one `*.refit-ds` file; arrays are numpy memmaps (no copy at open)."""

    def __init__(self, path):
        self.path = path
        try:
            with open(path, 'rb') as f:
                magic = f.read(8)
                (header_len,) = struct.unpack('<I', f.read(4))
                header = json.loads(f.read(header_len).decode('utf-8'))
        except (OSError, ValueError, struct.error) as e:
            raise WorkerError(E_DATASET, f'{path}: cannot read the encoded dataset ({e})') from e
        if magic != _MAGIC:
            raise WorkerError(E_DATASET, f'{path}: not an encoded refit dataset (bad magic {magic!r})')
        self.header = header
        try:
            self.n = int(header['n'])
            self.total_tokens = int(header['total_tokens'])
            specs = {name: header['arrays'][name] for name in _ARRAYS}
        except (KeyError, TypeError, ValueError) as e:
            raise WorkerError(E_DATASET, f'{path}: header lacks {e} (see docs/encoded-dataset.md)') from e
        self.arrays = {}
        for name, spec in specs.items():
            expected = {'offsets': self.n + 1, 'input_ids': self.total_tokens}.get(name, self.n)
            if list(spec['shape']) != [expected]:
                raise WorkerError(E_DATASET, f'{path}: array {name} has shape {spec["shape"]}, expected [{expected}]')
            dtype = np.dtype(spec['dtype']).newbyteorder('<')
            try:
                self.arrays[name] = np.memmap(path, dtype=dtype, mode='r', offset=spec['offset'],
                                              shape=(expected,))
            except ValueError as e:  # the file is shorter than the header says
                raise WorkerError(E_DATASET, f'{path}: array {name} lies outside the file ({e})') from e

    def batch(self, indices, seq_len, pad_id, device):
        """Padded tensors for `indices`: input_ids/attention_mask [b, seq_len] (mask None without padding),
        positions/labels [b], lengths [b] (CPU int64), plus label_range (min, max) and tokens (real tokens), computed on the host
        so that nothing here waits for the device."""
        idx = np.asarray(indices, dtype=np.int64)
        if idx.size == 0 or idx.min() < 0 or idx.max() >= self.n:
            raise WorkerError(E_DATASET, f'{self.path}: batch indices must be in [0, {self.n}), got '
                              f'{indices[:8]}{"..." if len(indices) > 8 else ""}')
        a = self.arrays
        lengths = np.asarray(a['lengths'][idx], dtype=np.int64)
        if lengths.max() > seq_len:
            raise WorkerError(E_DATASET, f'seq_len {seq_len} is shorter than example '
                              f'{int(idx[lengths.argmax()])} ({int(lengths.max())} tokens)')
        ids = np.full((len(idx), seq_len), pad_id, dtype=np.int64)
        starts = a['offsets'][idx]
        for row, (start, length) in enumerate(zip(starts, lengths)):
            ids[row, :length] = a['input_ids'][start:start + length]
        mask = np.arange(seq_len)[None, :] < lengths[:, None]  # [1, n] < [b, 1] -> [b, n]
        labels = np.asarray(a['labels'][idx], dtype=np.int64)
        to = lambda x: torch.from_numpy(np.ascontiguousarray(x)).to(device, non_blocking=True)
        return {
            'input_ids': to(ids),
            # None when no example is shorter than seq_len: attention then runs unmasked (flash-eligible).
            'attention_mask': to(mask.astype(np.int64)) if lengths.min() < seq_len else None,
            'head_pos': to(np.asarray(a['head_pos'][idx], dtype=np.int64)),
            'tail_pos': to(np.asarray(a['tail_pos'][idx], dtype=np.int64)),
            'labels': to(labels),
            # On the host: pack_padded_sequence (deepke-lm) wants CPU lengths, so no device round trip.
            'lengths': torch.from_numpy(lengths),
            'label_range': (int(labels.min()), int(labels.max())),
            'tokens': int(lengths.sum()),
        }
