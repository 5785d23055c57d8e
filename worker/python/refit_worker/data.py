"""The encoded dataset (docs/encoded-dataset.md), memory-mapped with numpy, and padded batches.

The worker never tokenizes: TS wrote token ids, entity positions, labels and lengths once (an NER file, header
`task: ner`: a label id per token instead, -100 where the loss skips it).
"""
import json
import struct

import numpy as np
import torch

from .protocol import E_BAD_COMMAND, E_DATASET, WorkerError

_MAGIC = b'REFITDS1'
# The arrays of each task's file (a relation file has no `task` in its header).
_ARRAYS = {None: ('offsets', 'input_ids', 'lengths', 'head_pos', 'tail_pos', 'labels'),
           'ner': ('offsets', 'input_ids', 'lengths', 'label_ids', 'word_offsets', 'word_pos')}
IGNORE_INDEX = -100  # the label id of positions the loss skips (what F.cross_entropy ignores by default)


class EncodedDataset:
    """A read-only view of one `*.refit-ds` file; arrays are numpy memmaps (no copy at open)."""

    task = None  # the header's task: None for relations, 'ner'

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
        self.task = header.get('task')
        if self.task not in _ARRAYS:
            raise WorkerError(E_DATASET, f'{path}: task {self.task!r} is not one this worker trains '
                              f'(relation files have no task; ner)')
        try:
            self.n = int(header['n'])
            self.total_tokens = int(header['total_tokens'])
            per = {'offsets': self.n + 1, 'input_ids': self.total_tokens, 'label_ids': self.total_tokens,
                   'word_offsets': self.n + 1}
            if self.task == 'ner':
                per['word_pos'] = int(header['total_words'])
            specs = {name: header['arrays'][name] for name in _ARRAYS[self.task]}
        except (KeyError, TypeError, ValueError) as e:
            raise WorkerError(E_DATASET, f'{path}: header lacks {e} (see docs/encoded-dataset.md)') from e
        self.arrays = {}
        for name, spec in specs.items():
            expected = per.get(name, self.n)
            if list(spec['shape']) != [expected]:
                raise WorkerError(E_DATASET, f'{path}: array {name} has shape {spec["shape"]}, expected [{expected}]')
            dtype = np.dtype(spec['dtype']).newbyteorder('<')
            try:
                self.arrays[name] = np.memmap(path, dtype=dtype, mode='r', offset=spec['offset'],
                                              shape=(expected,))
            except ValueError as e:  # the file is shorter than the header says
                raise WorkerError(E_DATASET, f'{path}: array {name} lies outside the file ({e})') from e

    def units(self, indices):
        """What the loss averages over in these examples: the examples themselves, or an NER file's labelled tokens
        (label id not -100), counted on the host."""
        if self.task != 'ner':
            return len(indices)
        a = self.arrays
        return sum(int(np.count_nonzero(a['label_ids'][a['offsets'][i]:a['offsets'][i + 1]] != IGNORE_INDEX))
                   for i in indices)

    def batch(self, indices, seq_len, pad_id, device):
        """Padded tensors for `indices`: input_ids/attention_mask [b, seq_len] (mask None without padding), lengths
        [b] (CPU int64), the labels (_example_labels or _token_labels), and on the host label_range (min, max of the
        labels counted), units (what the loss averages over) and tokens (real tokens), so that nothing here waits for
        the device."""
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
        to = lambda x: torch.from_numpy(np.ascontiguousarray(x)).to(device, non_blocking=True)
        labels = (self._token_labels(idx, starts, lengths, seq_len) if self.task == 'ner'
                  else self._example_labels(idx))
        return {
            'input_ids': to(ids),
            # None when no example is shorter than seq_len: attention then runs unmasked (flash-eligible).
            'attention_mask': to(mask.astype(np.int64)) if lengths.min() < seq_len else None,
            **{k: to(v) if isinstance(v, np.ndarray) else v for k, v in labels.items()},
            # On the host: pack_padded_sequence (deepke-lm) wants CPU lengths, so no device round trip.
            'lengths': torch.from_numpy(lengths),
            'tokens': int(lengths.sum()),
        }

    def _example_labels(self, idx):
        """A relation file: entity positions head_pos/tail_pos [b] and one label per example, labels [b]."""
        a = self.arrays
        labels = np.asarray(a['labels'][idx], dtype=np.int64)
        return {'head_pos': np.asarray(a['head_pos'][idx], dtype=np.int64),
                'tail_pos': np.asarray(a['tail_pos'][idx], dtype=np.int64),
                'labels': labels, 'label_range': (int(labels.min()), int(labels.max())), 'units': len(idx)}

    def _token_labels(self, idx, starts, lengths, seq_len):
        """An NER file: labels [b, seq_len] (-100 at padding and at every position the loss skips), no entity
        positions, and `positions`: each row's positions to read in eval (host int64 arrays, in order)."""
        labels = np.full((len(idx), seq_len), IGNORE_INDEX, dtype=np.int64)
        for row, (start, length) in enumerate(zip(starts, lengths)):
            labels[row, :length] = self.arrays['label_ids'][start:start + length]
        kept = labels[labels != IGNORE_INDEX]
        return {'head_pos': None, 'tail_pos': None, 'labels': labels, 'positions': self._positions(idx, labels),
                'label_range': (int(kept.min()), int(kept.max())) if kept.size else (0, 0), 'units': int(kept.size)}

    def _positions(self, idx, labels):
        """The positions eval reads in each row: its labelled ones (a word's first sub-token), in order."""
        return [np.flatnonzero(row != IGNORE_INDEX) for row in labels]


class InlineTokenRows(EncodedDataset):
    """The encoded rows an `eval` command carries for the token head (predict): input_ids and word_starts, the
    positions to read in each row (in the order given), built in memory; they carry no labels."""

    def __init__(self, rows):  # no file to read: EncodedDataset.__init__ is not called, only batch() is shared
        try:
            ids = [np.asarray(r, dtype=np.int64) for r in rows['input_ids']]
            starts = [np.asarray(r, dtype=np.int64) for r in rows['word_starts']]
        except (KeyError, TypeError, ValueError) as e:
            raise WorkerError(E_BAD_COMMAND, f'eval: rows must hold input_ids and word_starts ({e})') from e
        self.path = '<eval rows>'
        self.task = 'ner'
        self.n = len(ids)
        if len(starts) != self.n or any(r.ndim != 1 for r in ids + starts):
            raise WorkerError(E_BAD_COMMAND, f'eval: rows need one id list and one word_starts list per row '
                              f'({self.n} id lists, {len(starts)} word_starts lists)')
        for i, (r, s) in enumerate(zip(ids, starts)):
            if s.size and (s.min() < 0 or s.max() >= len(r)):
                raise WorkerError(E_BAD_COMMAND, f'eval: row {i}: word_starts must be positions in its '
                                  f'{len(r)} ids, got {s.tolist()[:8]}')
        self.word_starts = starts
        lengths = np.asarray([len(r) for r in ids], dtype=np.int64)
        offsets = np.zeros(self.n + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        self.total_tokens = int(offsets[-1])
        flat = np.concatenate(ids) if ids else np.zeros(0, dtype=np.int64)
        # No labels: every position is skipped by a loss; eval reads word_starts instead.
        self.arrays = {'offsets': offsets, 'lengths': lengths, 'input_ids': flat,
                       'label_ids': np.full(flat.shape, IGNORE_INDEX, dtype=np.int64)}

    def _positions(self, idx, labels):
        return [self.word_starts[i] for i in idx]
