"""The deepke-lm head's RNN for ONNX export: the same weights and numbers as DeepkeRnn, without packing.

DeepkeRnn packs by the true lengths (pack_padded_sequence), which torch.onnx.export traces with the sample batch's
sorting baked in, so the graph fails on other batches. This module runs each layer and direction as a one-layer,
one-direction torch RNN of the same type over the padded batch, which exports to one ONNX LSTM/GRU/RNN node with a
dynamic batch and sequence length:

- forward direction: padding comes after the valid positions, so the output at t = length-1 is the packed final state;
- backward direction: each row is reversed within its own length (an index from `lengths`, then gather), run, and the
  output at t = length-1 is the final state; the outputs are gathered back into the original order to feed the
  next layer (both directions concatenated per position, as torch's bidirectional RNN does).

Export only (eval mode: no dropout between layers); the training model keeps DeepkeRnn.
"""
import torch
from torch import nn


def _direction(rnn, layer, suffix):
    """A one-layer, one-direction copy of `rnn`'s layer `layer` (suffix '' or '_reverse')."""
    kwargs = {'nonlinearity': rnn.nonlinearity} if isinstance(rnn, nn.RNN) else {}
    cell = type(rnn)(input_size=getattr(rnn, f'weight_ih_l{layer}{suffix}').shape[1], hidden_size=rnn.hidden_size,
                     num_layers=1, bias=True, batch_first=True, bidirectional=False, **kwargs)
    with torch.no_grad():
        for name in ('weight_ih', 'weight_hh', 'bias_ih', 'bias_hh'):
            getattr(cell, f'{name}_l0').copy_(getattr(rnn, f'{name}_l{layer}{suffix}'))
    return cell


class UnpackedDeepkeRnn(nn.Module):
    """DeepkeRnn.forward's result ([b, hidden_size]: the last layer's final h, forward then backward half)."""

    def __init__(self, deepke_rnn):
        super().__init__()
        rnn = deepke_rnn.rnn
        if not rnn.batch_first or getattr(rnn, 'proj_size', 0):
            raise ValueError('the deepke-lm RNN is batch-first without projections')
        self.num_layers = rnn.num_layers
        self.bidirectional = rnn.bidirectional
        self.forward_cells = nn.ModuleList(_direction(rnn, k, '') for k in range(rnn.num_layers))
        self.backward_cells = nn.ModuleList(
            _direction(rnn, k, '_reverse') for k in range(rnn.num_layers)) if rnn.bidirectional else None

    @staticmethod
    def _at(out, last):
        """out [b, n, h] at t = last [b] -> [b, h]."""
        return out.gather(1, last[:, None, None].expand(-1, 1, out.shape[2])).squeeze(1)

    def forward(self, x, lengths):
        """x: [b, n, input_size]; lengths: [b] int64 true lengths (>= 1). Returns [b, hidden_size]."""
        x = x.float()
        lengths = lengths.to(device=x.device, dtype=torch.long)
        last = lengths - 1  # [b]
        t = torch.arange(x.shape[1], device=x.device)[None, :]  # [1, n]
        # Row i reversed within its length: position t reads t' = length-1-t; padding stays where it is.
        # The permutation is its own inverse, so the same index puts the backward outputs back in order.
        rev = torch.where(t < lengths[:, None], last[:, None] - t, t)  # [b, n]
        final = None
        for k in range(self.num_layers):
            out_f = self.forward_cells[k](x)[0]  # [b, n, h]
            if self.backward_cells is None:
                x, final = out_f, self._at(out_f, last)
                continue
            idx_in = rev[:, :, None].expand(-1, -1, x.shape[2])
            out_r = self.backward_cells[k](x.gather(1, idx_in))[0]  # [b, n, h], in reversed order
            final = torch.cat([self._at(out_f, last), self._at(out_r, last)], dim=1)  # [b, 2h]
            out_b = out_r.gather(1, rev[:, :, None].expand(-1, -1, out_r.shape[2]))
            x = torch.cat([out_f, out_b], dim=2)  # [b, n, 2h]: the next layer's input
        return final
