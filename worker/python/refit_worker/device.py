"""What this torch and this machine can do (feature detection only) and memory figures in bytes.

Never decides anything: TS picks precision, attention and optimizer from `capabilities`.
"""
import contextlib
import ctypes
import gc
import inspect
import os
import resource

import torch

from .model import HAS_SDPA
from .protocol import E_DEVICE, LEVER_VALUES, WorkerError

HAS_FUSED_ADAMW = 'fused' in inspect.signature(torch.optim.AdamW).parameters


def available_cores():
    """CPU cores this process may run on (affinity, not the machine's total)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


# File names of the BLAS libraries a CPU matmul can land in, as the dynamic loader maps them.
_BLAS_FILES = ('libblas.so', 'libopenblas', 'libblis', 'libmkl_rt', 'libsatlas', 'libtatlas')


def _blas_name(path):
    """A BLAS library's name: OpenBLAS says its version; Debian's folder names the flavour (openblas-pthread, ...)."""
    folder = os.path.basename(os.path.dirname(path))
    if folder == 'blas':  # Debian's libblas3: the Netlib reference implementation, about 10x slower than OpenBLAS
        return 'reference BLAS'
    lib = ctypes.CDLL(path)
    name = os.path.basename(path)
    if hasattr(lib, 'openblas_get_config'):
        lib.openblas_get_config.restype = ctypes.c_char_p
        name = ' '.join(lib.openblas_get_config().decode().split()[:2])  # 'OpenBLAS 0.3.21 NO_LAPACKE ...'
    return f'{name} ({folder})' if folder.startswith(('openblas', 'blis', 'atlas')) else name


def blas_library():
    """{name, path, reference}: the BLAS torch's CPU matrix products really run on.

    Debian's torch links libblas.so.3 (update-alternatives or LD_LIBRARY_PATH pick which one) and its build info
    says BLAS_INFO=generic whatever it gets, so the library is read from this process's memory map after a matmul;
    pip's torch carries MKL or OpenBLAS inside its own library (path None, name from its build info).
    """
    torch.ones(8, 8) @ torch.ones(8, 8)  # the BLAS is mapped by now, whether linked or loaded on first use
    try:
        with open('/proc/self/maps', encoding='utf-8') as maps:
            paths = dict.fromkeys(line.split()[-1] for line in maps if '.so' in line)
    except OSError:  # not Linux
        paths = {}
    # libblas.so.3 first: it is what torch links, while a LAPACK's own dependency (OpenBLAS's liblapack.so.3 beside
    # a reference libblas.so.3) may map another BLAS whose sgemm torch never calls.
    for prefix in _BLAS_FILES:
        for path in paths:
            if os.path.basename(path).startswith(prefix):
                name = _blas_name(path)
                return {'name': name, 'path': path, 'reference': name == 'reference BLAS'}
    info = torch.__config__.show()
    found = info.split('BLAS_INFO=')[1].split(',')[0] if 'BLAS_INFO=' in info else 'unknown'
    name = {'mkl': 'MKL', 'open': 'OpenBLAS', 'accelerate': 'Accelerate'}.get(found, found)
    return {'name': f'{name} (inside torch)', 'path': None, 'reference': False}


def set_threads(n):
    """Run torch's CPU maths on `n` threads: torch's intra-op pool and the BLAS's own.

    OpenBLAS (Debian's pthread build) keeps a thread pool of its own, every core by default, which
    torch.set_num_threads leaves alone (torch 1.13 with BLAS_INFO=generic): with n = 1 a matmul still ran on all
    cores, and an extra thread on a busy machine waits for a core (bench/results/threads.md).
    """
    torch.set_num_threads(n)
    path = blas_library()['path']
    if path is None:  # inside torch's own library (pip's MKL): torch.set_num_threads sets it
        return
    lib = ctypes.CDLL(path)
    for symbol in ('openblas_set_num_threads', 'bli_thread_set_num_threads'):
        if hasattr(lib, symbol):
            getattr(lib, symbol)(ctypes.c_int(n))
            return


def capabilities():
    """The `capabilities` object of the ready event (with the BLAS library: what CPU matmuls run on)."""
    cuda = torch.cuda.is_available()
    caps = {'cuda': cuda, 'device_count': torch.cuda.device_count() if cuda else 0,
            'bf16': bool(cuda and torch.cuda.is_bf16_supported()), 'sdpa': HAS_SDPA,
            'fused_adamw': bool(cuda and HAS_FUSED_ADAMW), 'blas': blas_library()}
    if cuda:
        props = torch.cuda.get_device_properties(0)
        caps['device_name'] = props.name
        caps['total_memory'] = int(props.total_memory)
        caps['device_names'] = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    return caps


def parse_device(text):
    """'cpu' | 'cuda' | 'cuda:N' -> torch.device; E_DEVICE when CUDA is absent or N is out of range."""
    if text == 'cpu':
        return torch.device('cpu')
    if text == 'cuda' or text.startswith('cuda:'):
        if not torch.cuda.is_available():
            raise WorkerError(E_DEVICE, f'device {text!r}: this torch ({torch.__version__}) sees no CUDA GPU')
        index = int(text[5:]) if text.startswith('cuda:') and text[5:].isdigit() else 0
        if index >= torch.cuda.device_count():
            raise WorkerError(E_DEVICE, f'device {text!r}: only {torch.cuda.device_count()} GPU(s) visible')
        return torch.device('cuda', index)
    raise WorkerError(E_DEVICE, f'device {text!r}: expected cpu, cuda or cuda:N')


def autocast_for(device, precision):
    """The autocast context for a forward pass; fp32 runs without autocast."""
    if precision == 'fp32':
        return contextlib.nullcontext()
    dtype = torch.float16 if precision == 'fp16' else torch.bfloat16
    return torch.autocast(device_type=device.type, dtype=dtype)


def check_precision(device, precision):
    """Raise E_DEVICE unless `precision` can run on `device` (fp16 needs CUDA; bf16 a supporting device)."""
    if precision == 'fp32':
        return
    if precision not in LEVER_VALUES['precision']:
        raise WorkerError(E_DEVICE, f'precision {precision!r}: expected ' + ', '.join(LEVER_VALUES['precision']))
    if device.type == 'cuda':
        if precision == 'bf16' and not torch.cuda.is_bf16_supported():
            raise WorkerError(E_DEVICE, f'precision bf16: {torch.cuda.get_device_name(device)} lacks bf16; use fp16')
        return
    if precision == 'fp16':
        raise WorkerError(E_DEVICE, 'precision fp16 needs a CUDA GPU (loss scaling is CUDA-only); '
                          'use fp32 or bf16 on CPU')
    try:  # bf16 autocast on CPU: probe it rather than trusting a version number
        with torch.autocast(device_type='cpu', dtype=torch.bfloat16):
            torch.ones(2, 2) @ torch.ones(2, 2)
    except (RuntimeError, TypeError) as e:
        raise WorkerError(E_DEVICE, f'precision bf16 is not supported on this CPU torch ({e})') from e


def memory_stats(device):
    """MemoryStats of the protocol: torch's CUDA counters, or the process's peak RSS on CPU."""
    if device is not None and device.type == 'cuda':
        free, total = torch.cuda.mem_get_info(device)
        return {'device': 'cuda',
                'max_memory_allocated': int(torch.cuda.max_memory_allocated(device)),
                'max_memory_reserved': int(torch.cuda.max_memory_reserved(device)),
                'memory_allocated': int(torch.cuda.memory_allocated(device)),
                'mem_get_info_free': int(free), 'mem_get_info_total': int(total)}
    # ru_maxrss is in KiB on Linux.
    return {'device': 'cpu', 'peak_rss_bytes': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}


def reset_peak(device):
    """Start a new peak-memory window (CUDA only; peak RSS cannot be reset)."""
    if device is not None and device.type == 'cuda':
        torch.cuda.reset_peak_memory_stats(device)


def is_oom(exc):
    """True for an out-of-memory error from the CUDA caching allocator or the CPU allocator."""
    oom_type = getattr(torch.cuda, 'OutOfMemoryError', ())
    if oom_type and isinstance(exc, oom_type):
        return True
    text = str(exc)
    return isinstance(exc, RuntimeError) and ('out of memory' in text or "can't allocate memory" in text)


def release_memory():
    """After an OOM (once the exception and its frames are gone): collect garbage, return cached CUDA blocks."""
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
