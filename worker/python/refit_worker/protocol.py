"""The TS<->worker JSON-lines protocol, mirrored field by field from src/worker/protocol.ts.

Tables only: which commands and events exist and which fields each carries. No I/O here.
A test compares these tables with the TypeScript interfaces, so keep both in step.
"""

PROTOCOL_VERSION = 1

# Command type -> (required fields, optional fields); `type` itself is implied.
COMMANDS = {
    'hello': (('protocol_version',), ()),
    'load': (('config', 'head', 'seed', 'device', 'precision', 'attention',
              'grad_checkpointing', 'freeze_layers', 'optimizer', 'offload', 'lora_rank', 'schedule',
              'max_grad_norm'),
             ('pretrained', 'budget_bytes', 'num_threads', 'strategy', 'skip_init', 'lora')),
    'open_dataset': (('name', 'path'), ()),
    'train_step': (('step', 'dataset', 'logical_batch_size', 'micro_batches'),
                   ('continue',)),
    'eval': (('batches', 'tag'), ('dataset', 'rows')),
    'save': (('path', 'checkpoint', 'step'), ()),
    'restore': (('path',), ()),
    'inspect_weights': (('path',), ()),
    'memory': ((), ('reset_peak',)),
    'export_onnx': (('path', 'opset'), ()),
    'shutdown': ((), ()),
}

# Event type -> (required fields, optional fields).
EVENTS = {
    'ready': (('protocol_version', 'torch_version', 'python_version',
               'capabilities', 'num_threads'), ('world_size', 'backend')),
    'loaded': (('params', 'trainable_params', 'memory'), ()),
    'dataset_opened': (('name', 'n', 'total_tokens'), ()),
    'step': (('step', 'loss', 'lr', 'grad_norm', 'examples', 'tokens',
              'padded_tokens', 'seconds', 'memory'), ('skipped', 'rank_memory')),
    'oom': (('step', 'completed_micro_batches', 'message', 'memory'), ('rank',)),
    'eval_result': (('tag', 'seconds', 'memory'), ('logits', 'tags', 'scores', 'nll')),
    'saved': (('path', 'step'), ()),
    'restored': (('path', 'step'), ()),
    'weights_info': (('path', 'tensors'), ()),
    'memory': (('memory',), ()),
    'exported': (('path', 'opset', 'bytes', 'seconds'), ()),
    'bye': ((), ()),
    'error': (('code', 'message'), ('traceback', 'command')),
}

# The values each lever of the `load` command takes (precision, attention, optimizer kind): mirrored from
# LEVER_VALUES in protocol.ts, which reads them from the lever table (src/memory/levers.ts).
LEVER_VALUES = {
    'precision': ('fp32', 'fp16', 'bf16'),
    'attention': ('eager', 'sdpa'),
    'optimizer': ('adamw', 'adamw-fused', 'adamw-8bit', 'sgd'),
    'offload': ('none', 'optimizer', 'activations', 'all'),
}

# Stable error codes carried by `error` events.
E_BAD_COMMAND = 'E_BAD_COMMAND'      # malformed JSON, unknown type, missing/invalid field
E_PROTOCOL = 'E_PROTOCOL'            # protocol_version mismatch
E_MODEL_FILES = 'E_MODEL_FILES'      # model folder lacks config.json or weights
E_MODEL_VOCAB = 'E_MODEL_VOCAB'      # vocab.txt size differs from config vocab_size
E_CHECKPOINT_ARCH = 'E_CHECKPOINT_ARCH'  # weights of another architecture/shape
E_DATASET = 'E_DATASET'              # encoded dataset unreadable or index out of range
E_DEVICE = 'E_DEVICE'                # device, precision or optimizer not available here
E_OOM = 'E_OOM'                      # out of memory outside a train_step micro-batch (load, eval, optimizer step)
E_EXPORT = 'E_EXPORT'                # torch.onnx.export failed on the loaded model
E_INTERNAL = 'E_INTERNAL'            # anything else (a bug): traceback attached


class WorkerError(Exception):
    """A command failure with a stable code and a one-line message for the user."""

    def __init__(self, code, message):
        super().__init__(message)
        self.code = code
        self.message = message


def check_command(cmd):
    """Return the command's type after checking its fields against COMMANDS; raise WorkerError."""
    if not isinstance(cmd, dict) or not isinstance(cmd.get('type'), str):
        raise WorkerError(E_BAD_COMMAND, 'a command must be a JSON object with a string "type"')
    kind = cmd['type']
    if kind not in COMMANDS:
        raise WorkerError(E_BAD_COMMAND, f'unknown command type {kind!r}; known: '
                          + ', '.join(sorted(COMMANDS)))
    required, optional = COMMANDS[kind]
    missing = [f for f in required if f not in cmd]
    if missing:
        raise WorkerError(E_BAD_COMMAND, f'{kind}: missing field(s) ' + ', '.join(missing))
    unknown = [f for f in cmd if f != 'type' and f not in required and f not in optional]
    if unknown:
        raise WorkerError(E_BAD_COMMAND, f'{kind}: unknown field(s) ' + ', '.join(unknown))
    return kind


def make_event(kind, **fields):
    """Build an event dict; asserts (internal invariant) that its fields match EVENTS."""
    required, optional = EVENTS[kind]
    assert all(f in fields for f in required), (kind, fields.keys())
    assert all(f in required or f in optional for f in fields), (kind, fields.keys())
    return {'type': kind, **fields}
