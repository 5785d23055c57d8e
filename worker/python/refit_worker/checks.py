"""The `load` command's model checks: a config.json and head that the model can be built from, or one
E_BAD_COMMAND line saying what is wrong, before anything is allocated.
"""
from .model import HEADS, RNN_TYPES
from .protocol import E_BAD_COMMAND, WorkerError

# The config.json fields that fix the architecture (a checkpoint records them; they must be positive integers).
ARCH_KEYS = ('vocab_size', 'hidden_size', 'num_hidden_layers', 'num_attention_heads',
             'intermediate_size', 'max_position_embeddings', 'type_vocab_size')


def check_config(cfg, head, freeze_layers):
    """Reject impossible shapes with a one-line E_BAD_COMMAND before allocating anything."""
    missing = [k for k in ARCH_KEYS if not isinstance(cfg.get(k), int) or cfg[k] <= 0]
    if missing:
        raise WorkerError(E_BAD_COMMAND, 'config: ' + ', '.join(missing) + ' must be positive integers')
    if cfg['hidden_size'] % cfg['num_attention_heads']:
        raise WorkerError(E_BAD_COMMAND, f'config: hidden_size {cfg["hidden_size"]} is not a multiple of '
                          f'num_attention_heads {cfg["num_attention_heads"]}')
    if cfg.get('hidden_act', 'gelu') != 'gelu':
        raise WorkerError(E_BAD_COMMAND, f'config: hidden_act {cfg["hidden_act"]!r} is not supported (gelu only)')
    if cfg.get('position_embedding_type', 'absolute') != 'absolute':
        raise WorkerError(E_BAD_COMMAND, f'config: position_embedding_type {cfg["position_embedding_type"]!r} '
                          'is not supported (absolute only)')
    if not 0 <= freeze_layers <= cfg['num_hidden_layers']:
        raise WorkerError(E_BAD_COMMAND, f'freeze_layers {freeze_layers} must be in 0..{cfg["num_hidden_layers"]}')
    if head['kind'] not in HEADS or head['num_labels'] < 1:
        raise WorkerError(E_BAD_COMMAND, f'head {head}: kind must be one of {", ".join(HEADS)}, num_labels >= 1')
    if head['kind'] == 'deepke-lm':
        check_rnn(head.get('rnn'))
    elif 'rnn' in head:
        raise WorkerError(E_BAD_COMMAND, f'head {head["kind"]}: rnn is only for the deepke-lm head')


_RNN_FIELDS = ('type', 'hidden_size', 'num_layers', 'bidirectional', 'last_layer_hn', 'dropout')


def check_rnn(rnn):
    """The deepke-lm head's RNN spec: every field present and consistent (E_BAD_COMMAND otherwise)."""
    if not isinstance(rnn, dict) or sorted(rnn) != sorted(_RNN_FIELDS):
        raise WorkerError(E_BAD_COMMAND, f'head deepke-lm: rnn must have exactly the fields {", ".join(_RNN_FIELDS)}')
    if rnn['type'] not in RNN_TYPES:
        raise WorkerError(E_BAD_COMMAND, f'rnn type {rnn["type"]!r}: expected one of {", ".join(RNN_TYPES)}')
    size, layers = rnn['hidden_size'], rnn['num_layers']
    if not isinstance(size, int) or size < 1 or not isinstance(layers, int) or layers < 1:
        raise WorkerError(E_BAD_COMMAND, 'rnn hidden_size and num_layers must be positive integers')
    if rnn['bidirectional'] and size % 2:
        raise WorkerError(E_BAD_COMMAND, f'rnn hidden_size {size} must be even when bidirectional (half per direction)')
    if not rnn['last_layer_hn'] and layers > 1:
        raise WorkerError(E_BAD_COMMAND, 'rnn last_layer_hn false with num_layers > 1 gives one output per layer, '
                          'which a classifier cannot train on (as in DeepKE); use last_layer_hn true')
    if not 0 <= rnn['dropout'] <= 1:
        raise WorkerError(E_BAD_COMMAND, f'rnn dropout {rnn["dropout"]} must be in [0, 1]')

