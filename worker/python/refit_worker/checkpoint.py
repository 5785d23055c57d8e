"""Save and restore of a loaded model: the HF model folder plus checkpoint.pt (optimizer, scheduler, loss scaler and
RNG states), every file atomic; and, for fsdp, the whole states gathered to save and sharded again on restore.

It writes only the folder a `save` names and reads only the one a `restore` names. What differs by strategy is asked
of the trainer's step object (`whole_states`, `load_optimizer_state`), never branched on here.
"""
import inspect
import os

import numpy as np
import torch

from . import lora
from .checks import ARCH_KEYS
from .dist import distribute_like, full_tensor
from .protocol import E_CHECKPOINT_ARCH, E_MODEL_FILES, WorkerError
from .weights import atomic_file, load_into, read_model_folder, save_model_folder

# checkpoint.pt is our own file (floats, RNG tuples): 1.13's weights-only unpickler rejects floats.
_OWN_LOAD_KW = {'weights_only': False} if 'weights_only' in inspect.signature(torch.load).parameters else {}


def save(t, path, checkpoint, step):
    """HF folder (+ checkpoint.pt with optimizer/scheduler/scaler/RNG state when `checkpoint`) of the trainer `t`.

    Without `checkpoint`, a stale checkpoint.pt in the folder is removed: it would not match the weights.
    Several ranks: every rank first gathers what the strategy keeps apart (collectives), and only rank 0 writes.
    """
    tensors, optimizer_state = t.steps.whole_states(checkpoint)
    if not t.ranks.leader:
        return
    # LoRA: the folder holds the merged weights (a plain BERT), checkpoint.pt the adapters they came from
    save_model_folder(path, t.model, t.config, step, lora.merged(t.model, tensors))
    ckpt = os.path.join(path, 'checkpoint.pt')
    if not checkpoint:
        if os.path.exists(ckpt):
            os.unlink(ckpt)
        return
    t.faults.during_save(step)  # fault injection: a kill between the weights and the training state
    name, keys, pos, has_gauss, cached = np.random.get_state()
    rng = {'torch': torch.get_rng_state(),
           'numpy': [name, torch.from_numpy(keys.astype(np.int64)), pos, has_gauss, cached]}
    if t.device.type == 'cuda':
        rng['cuda'] = torch.cuda.get_rng_state_all()
    state = {'format': 'refit-checkpoint', 'version': 1, 'step': step,
             'arch': {k: t.config[k] for k in ARCH_KEYS}, 'head': dict(t.head),
             'optimizer': optimizer_state or t.optimizer.state_dict(), 'scheduler': t.scheduler.state_dict(),
             'scaler': t.scaler.state_dict(), 'rng': rng}
    if lora.adapters(t.model):
        state['lora'] = lora.exact_state(t.model)
    with atomic_file(ckpt) as f:
        torch.save(state, f)


def restore(t, path):
    """Load weights (+ training state when checkpoint.pt exists) into the trainer `t`; returns the saved step.
    A step interrupted by an oom event is dropped with the gradients it had gathered.

    Every file is read and checked before anything of `t` changes, so a damaged checkpoint (truncated, unreadable)
    is one E_MODEL_FILES error and leaves the loaded model as it was: TS may then restore an older one into it.
    """
    tensors, metadata = read_model_folder(path, t.config)
    ckpt = os.path.join(path, 'checkpoint.pt')
    state = _read_state(ckpt) if os.path.exists(ckpt) else None
    # strict: every weight of the model, encoder and head. A model built with skip_init in one process takes the
    # tensors just read as its weights (they are private copies); wrapped or sharded ones are copied into.
    take = t.needs_restore and not t.ranks.active
    load_into(t.model, tensors, path, strict_head=True, take=take)
    t.needs_restore = False
    t.partial = None
    t.steps.zero_grad()
    if state is None:
        lora.restore(t.model, None, path)
        t.offload.weights_loaded(t.optimizer)
        return int(metadata.get('refit_step', 0))
    lora.restore(t.model, state.get('lora'), ckpt)
    t.offload.weights_loaded(t.optimizer)
    t.steps.load_optimizer_state(state['optimizer'])
    try:
        t.optimizer.load_state_dict(state['optimizer'])
    except (ValueError, KeyError) as e:
        raise WorkerError(E_CHECKPOINT_ARCH, f'{ckpt}: optimizer state does not fit this model '
                          f'(other freeze_layers or optimizer?): {e}') from e
    t.scheduler.load_state_dict(state['scheduler'])
    t.scaler.load_state_dict(state['scaler'])
    rng = state['rng']
    torch.set_rng_state(rng['torch'])
    name, keys, pos, has_gauss, cached = rng['numpy']
    np.random.set_state((name, keys.numpy().astype(np.uint32), pos, has_gauss, cached))
    if 'cuda' in rng and t.device.type == 'cuda':
        torch.cuda.set_rng_state_all(rng['cuda'])
    return int(state['step'])


_STATE_KEYS = ('step', 'optimizer', 'scheduler', 'scaler', 'rng')


def _read_state(ckpt):
    """checkpoint.pt read whole; a file torch cannot read (truncated, garbled) or that lacks a part is E_MODEL_FILES."""
    try:
        state = torch.load(ckpt, map_location='cpu', **_OWN_LOAD_KW)
    except Exception as e:  # zip, pickle and torch errors alike: the file is damaged
        raise WorkerError(E_MODEL_FILES, f'{ckpt}: damaged checkpoint, torch cannot read it ({type(e).__name__}: '
                          f'{(str(e).splitlines() or [""])[0][:200]})') from e
    missing = [k for k in _STATE_KEYS if not isinstance(state, dict) or k not in state]
    if missing or not isinstance(state.get('rng'), dict) or 'torch' not in state['rng']:
        raise WorkerError(E_MODEL_FILES, f'{ckpt}: damaged checkpoint, it lacks {", ".join(missing) or "rng.torch"}')
    return state


def gather_whole(model, optimizer, keep):
    """fsdp: the whole weights (and, given an `optimizer`, its whole state) gathered from the sharded ones, in the
    layout a single process saves, so any world size and strategy resumes them: (tensors, optimizer state).

    Every rank must call it (each full_tensor is a collective, in the same order everywhere). One tensor at a time
    goes to the host at once, so the device holds one whole tensor at most; only the rank that `keep`s (rank 0)
    holds on to what it gathered, the others get empty dicts.
    """
    tensors = {}
    for k, v in model.state_dict().items():
        whole = full_tensor(v).detach().cpu()
        if keep:
            tensors[k] = whole
    if optimizer is None:
        return tensors, None
    optimizer_state = optimizer.state_dict()  # its per-parameter dicts are the live ones: copy
    gathered = {}
    for i, st in optimizer_state['state'].items():
        whole = {k: full_tensor(v).cpu() if torch.is_tensor(v) else v for k, v in st.items()}
        if keep:
            gathered[i] = whole
    optimizer_state['state'] = gathered
    return tensors, optimizer_state


def shard_optimizer_state(optimizer, saved):
    """fsdp: a whole optimizer state (as one process saves it) sharded like each parameter, in place (a collective)."""
    params = [p for group in optimizer.param_groups for p in group['params']]
    for i, st in saved['state'].items():
        p = params[int(i)] if int(i) < len(params) else None
        for k, v in list(st.items()):
            if p is not None and torch.is_tensor(v) and tuple(v.shape) == tuple(p.shape) and v.dim() > 0:
                st[k] = distribute_like(v, p)
