// The OOM parser on every message format (test/fixtures/oom/*.log): every byte field exact, kind and cause.
// Expected bytes were computed independently (Python Decimal, round half up) from the printed sizes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import {
  diagnose,
  findOomReports,
  parseOomReport,
  sizeToBytes,
  type OomReport,
} from '../../src/memory/doctor/index.ts';

const FIXTURES = new URL('../fixtures/oom/', import.meta.url);
const FIELDS = [
  'device_index',
  'requested_bytes',
  'total_bytes',
  'free_bytes',
  'allocated_bytes',
  'reserved_bytes',
  'reserved_unallocated_bytes',
  'process_in_use_bytes',
  'allowed_bytes',
] as const;

type Fields = Partial<Record<(typeof FIELDS)[number], number>>;

/** Only the JSON byte fields of a report (absent ones stay absent). */
function fieldsOf(r: OomReport): Fields {
  const out: Fields = {};
  for (const k of FIELDS) if (r[k] !== undefined) out[k] = r[k];
  return out;
}

// [fixture, kind, cause, fields]
const CASES: ReadonlyArray<[string, OomReport['kind'], string, Fields]> = [
  [
    'deepke-issue-1.4',
    'allocator-oom',
    'capacity',
    {
      device_index: 0,
      requested_bytes: 201326592,
      total_bytes: 12616466432,
      free_bytes: 93585408,
      allocated_bytes: 10630044058,
      reserved_bytes: 10705205985,
      reserved_unallocated_bytes: 75161927,
    },
  ],
  [
    'v1.0-cached',
    'allocator-oom',
    'capacity',
    {
      device_index: 0,
      requested_bytes: 13107200,
      total_bytes: 11725260718,
      free_bytes: 13044285,
      allocated_bytes: 10554882130,
      reserved_bytes: 10578265375,
      reserved_unallocated_bytes: 23383245,
    },
  ],
  [
    'v1.8-allowed',
    'allocator-oom',
    'memory-fraction',
    {
      device_index: 0,
      requested_bytes: 20971520,
      total_bytes: 17072495002,
      free_bytes: 11327976243,
      allocated_bytes: 5078798828,
      reserved_bytes: 5089536246,
      reserved_unallocated_bytes: 10737418,
      allowed_bytes: 5121748500,
    },
  ],
  [
    'v1.13-fragmentation',
    'allocator-oom',
    'fragmentation',
    {
      device_index: 1,
      requested_bytes: 1610612736,
      total_bytes: 25436943811,
      free_bytes: 1299227607,
      allocated_bytes: 6453188362,
      reserved_bytes: 9878424781,
      reserved_unallocated_bytes: 3425236419,
    },
  ],
  [
    'ansi-colored',
    'allocator-oom',
    'capacity',
    {
      device_index: 0,
      requested_bytes: 67108864,
      total_bytes: 8364448809,
      free_bytes: 41418752,
      allocated_bytes: 6990059274,
      reserved_bytes: 7365868913,
      reserved_unallocated_bytes: 375809639,
    },
  ],
  [
    'multiple-last-wins',
    'allocator-oom',
    'capacity',
    {
      device_index: 0,
      requested_bytes: 536870912,
      total_bytes: 15848429322,
      free_bytes: 314572800,
      allocated_bytes: 14066017894,
      reserved_bytes: 14388140442,
      reserved_unallocated_bytes: 322122548,
    },
  ],
  [
    'npu',
    'allocator-oom',
    'capacity',
    {
      device_index: 0,
      requested_bytes: 2147483648,
      total_bytes: 34359738368,
      free_bytes: 1127428915,
      allocated_bytes: 31245887078,
      reserved_bytes: 32448477921,
      reserved_unallocated_bytes: 1202590843,
    },
  ],
  [
    'v2.1-capacty-contention',
    'allocator-oom',
    'contention',
    {
      device_index: 0,
      requested_bytes: 2147483648,
      total_bytes: 84986665370,
      free_bytes: 1181116006,
      allocated_bytes: 49928994816,
      reserved_bytes: 50671774597,
      reserved_unallocated_bytes: 742779781,
      process_in_use_bytes: 51571819807,
    },
  ],
  [
    'v2.2-private-pools',
    'allocator-oom',
    'capacity',
    {
      device_index: 0,
      requested_bytes: 805306368,
      total_bytes: 25383256719,
      free_bytes: 147199099,
      allocated_bytes: 23536420782,
      reserved_bytes: 24372964229,
      reserved_unallocated_bytes: 836543447,
      process_in_use_bytes: 25211458028,
    },
  ],
  [
    'v2.2-hard-wrapped-80',
    'allocator-oom',
    'capacity',
    {
      device_index: 3,
      requested_bytes: 318767104,
      total_bytes: 101973261025,
      free_bytes: 229438915,
      allocated_bytes: 97914516931,
      reserved_bytes: 98695034962,
      reserved_unallocated_bytes: 780518031,
      process_in_use_bytes: 100759932764,
    },
  ],
  [
    'v2.2-soft-wrapped',
    'allocator-oom',
    'capacity',
    {
      device_index: 0,
      requested_bytes: 318767104,
      total_bytes: 101973261025,
      free_bytes: 229438915,
      allocated_bytes: 97914516931,
      reserved_bytes: 98695034962,
      reserved_unallocated_bytes: 780518031,
      process_in_use_bytes: 100759932764,
    },
  ],
  [
    'v2.5-torchrun-container',
    'allocator-oom',
    'capacity',
    {
      device_index: 0,
      requested_bytes: 14680064,
      total_bytes: 23944442675,
      free_bytes: 4917821,
      allocated_bytes: 23536420782,
      reserved_bytes: 23553690829,
      reserved_unallocated_bytes: 17270047,
    },
  ],
  [
    'v2.11-fraction-cap',
    'allocator-oom',
    'memory-fraction',
    {
      device_index: 0,
      requested_bytes: 201326592,
      total_bytes: 150109106995,
      free_bytes: 136741021286,
      allocated_bytes: 12229919375,
      reserved_bytes: 12505778749,
      reserved_unallocated_bytes: 275859374,
      process_in_use_bytes: 13357348291,
      allowed_bytes: 12616466432,
    },
  ],
  [
    'refit-events-json',
    'allocator-oom',
    'capacity',
    {
      device_index: 0,
      requested_bytes: 20971520,
      total_bytes: 8321499136,
      free_bytes: 0,
      allocated_bytes: 7301444403,
      reserved_bytes: 7301629235,
      reserved_unallocated_bytes: 184832,
      process_in_use_bytes: 8310761718,
      allowed_bytes: 7516192768,
    },
  ],
  [
    'hip',
    'allocator-oom',
    'capacity',
    {
      device_index: 0,
      requested_bytes: 2147483648,
      total_bytes: 68698001900,
      free_bytes: 1320702444,
      allocated_bytes: 64553358459,
      reserved_bytes: 66217658286,
      reserved_unallocated_bytes: 1664299827,
    },
  ],
  [
    'xpu',
    'allocator-oom',
    'capacity',
    {
      device_index: 0,
      requested_bytes: 1610612736,
      total_bytes: 16224238961,
      free_bytes: 536870912,
      allocated_bytes: 14173392077,
      reserved_bytes: 15354508083,
      reserved_unallocated_bytes: 1181116006,
    },
  ],
  ['v2.3-truncated-126766', 'allocator-oom', 'capacity', { requested_bytes: 3999999679529 }],
  [
    'mps',
    'allocator-oom',
    'capacity',
    { requested_bytes: 6291456, allocated_bytes: 19466939269, allowed_bytes: 19466939269 },
  ],
  ['driver-cuda-error', 'driver-oom', 'driver-failure', {}],
  ['driver-thc-0.4', 'driver-oom', 'driver-failure', {}],
  ['cublas', 'library-oom', 'library-failure', {}],
  ['cudnn', 'library-oom', 'library-failure', {}],
  ['cpu-allocator', 'host-oom', 'host-memory', { requested_bytes: 8589934592 }],
  ['cpu-allocator-windows', 'host-oom', 'host-memory', { requested_bytes: 1073741824 }],
  // Produced on this project's machine with torch 1.13 (CPU): torch.empty(2**50, dtype=torch.uint8).
  ['cpu-allocator-torch1.13-real', 'host-oom', 'host-memory', { requested_bytes: 1125899906842624 }],
  ['killed', 'host-oom', 'host-memory', {}],
  // The shell's "Killed" glued to a tqdm bar (the terminal's copy, and the raw capture with its \r redraws).
  ['killed-after-progress-bar', 'host-oom', 'host-memory', {}],
  ['killed-after-progress-bar-cr', 'host-oom', 'host-memory', {}],
  ['deepspeed-minus9', 'host-oom', 'host-memory', {}],
  ['exit-status-137', 'host-oom', 'host-memory', {}],
  ['dataloader-killed', 'host-oom', 'host-memory', {}],
  ['dataloader-bus-error', 'host-oom', 'host-memory', {}],
  ['dmesg-oom-killer', 'host-oom', 'host-memory', {}],
  ['lookalike-int-max', 'not-oom', 'none', {}],
  ['lookalike-internal-assert', 'not-oom', 'none', {}],
  ['lookalike-words', 'not-oom', 'none', {}],
  ['lookalike-killed-words', 'not-oom', 'none', {}],
];

for (const [name, kind, cause, fields] of CASES) {
  test(`fixture ${name}: ${kind}, ${cause}, every field exact`, () => {
    const report = parseOomReport(readFileSync(new URL(`${name}.log`, FIXTURES), 'utf8'));
    assert.equal(report.kind, kind);
    assert.deepEqual(fieldsOf(report), fields);
    assert.equal(diagnose(report).cause, cause);
  });
}

test('sizes: binary units, 2 decimals, exact rounding to nearest (also beyond 2^53)', () => {
  assert.equal(sizeToBytes('0', 'bytes'), 0);
  assert.equal(sizeToBytes('1024', 'bytes'), 1024);
  assert.equal(sizeToBytes('180.50', 'KiB'), 184832);
  assert.equal(sizeToBytes('89.25', 'MiB'), 93585408);
  assert.equal(sizeToBytes('9.90', 'GiB'), 10630044058); // 10630044057.6
  assert.equal(sizeToBytes('9.97', 'GiB'), 10705205985); // 10705205985.28
  assert.equal(sizeToBytes('130206.04', 'GiB'), 139807670885417); // 139807670885416.96 — no TiB in PyTorch
});

test('the quoted DeepKE message: explanation carries its numbers', () => {
  const d = diagnose(parseOomReport(readFileSync(new URL('deepke-issue-1.4.log', FIXTURES), 'utf8')));
  for (const s of ['192.00 MiB', '11.75 GiB', '89.25 MiB', '9.97 GiB', '9.90 GiB', '1.69 GiB'])
    assert.ok(d.explanation.includes(s), s);
});

test('sources and formats are named', () => {
  const read = (name: string) => parseOomReport(readFileSync(new URL(`${name}.log`, FIXTURES), 'utf8'));
  assert.equal(read('v1.0-cached').format, '1.0');
  assert.equal(read('v1.13-fragmentation').format, '1.10');
  assert.equal(read('v2.1-capacty-contention').format, '2.1');
  assert.equal(read('v2.2-private-pools').format, '2.2');
  assert.equal(read('v2.2-private-pools').private_pool_bytes, 109051904);
  assert.equal(read('hip').source, 'hip-allocator');
  assert.equal(read('xpu').source, 'xpu-allocator');
  assert.equal(read('cudnn').source, 'cudnn');
  assert.equal(read('dataloader-bus-error').source, 'dataloader-shm');
  assert.deepEqual(read('v2.1-capacty-contention').other_processes, [{ pid: 3541, bytes: 32212254720 }]);
  assert.match(read('lookalike-internal-assert').look_alikes?.[0] ?? '', /INTERNAL ASSERT/);
});

test('several reports: all are found in order and the last one is returned', () => {
  const text = readFileSync(new URL('multiple-last-wins.log', FIXTURES), 'utf8');
  assert.deepEqual(
    findOomReports(text).map((r) => r.requested_bytes),
    [1073741824, 536870912],
  );
  const mixed = `${text}\nKilled\n`;
  assert.equal(parseOomReport(mixed).kind, 'host-oom');
  // The same report quoted again, shorter (an issue's summary line): the fuller copy is read.
  const quoted = `${text}\nIn short: CUDA out of memory. Tried to allocate 512.00 MiB\n`;
  assert.equal(parseOomReport(quoted).total_bytes, 15848429322);
  const other = `${text}\nthen: CUDA out of memory. Tried to allocate 2.00 GiB\n`;
  assert.equal(parseOomReport(other).total_bytes, undefined);
});

// Inline cases: formats and traps not worth a file each.
const INLINE: ReadonlyArray<[string, string, OomReport['kind'], Fields]> = [
  [
    '1.x truncated inside the parenthesis',
    'RuntimeError: CUDA out of memory. Tried to allocate 20.00 MiB (GPU 2; 7.79 GiB total capacity; 6.2',
    'allocator-oom',
    { device_index: 2, requested_bytes: 20971520, total_bytes: 8364448809 },
  ],
  [
    '2.x without the NVML part (Windows)',
    'torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 20.00 MiB. GPU 0 has a total capacity of 8.00 GiB of which 0 bytes is free. Of the allocated memory 7.20 GiB is allocated by PyTorch, and 100.00 MiB is reserved by PyTorch but unallocated.',
    'allocator-oom',
    {
      device_index: 0,
      requested_bytes: 20971520,
      total_bytes: 8589934592,
      free_bytes: 0,
      allocated_bytes: 7730941133,
      reserved_bytes: 7835798733,
      reserved_unallocated_bytes: 104857600,
    },
  ],
  [
    '2.x cut after the private-pool clause',
    'torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 21.10 GiB. GPU 0 has a total capacity of 22.30 GiB of which 50.00 MiB is free. Process 189021 has 22.28 GiB memory in use. Of the allocated memory 20.94 GiB is allocated by PyTorch, with 22.00 MiB allocated in private pools (e.g., CUDA Graphs).',
    'allocator-oom',
    {
      device_index: 0,
      requested_bytes: 22655952486,
      total_bytes: 23944442675,
      free_bytes: 52428800,
      allocated_bytes: 22484153795,
    },
  ],
  [
    'notebook prefix and bytes request',
    'OutOfMemoryError: CUDA out of memory. Tried to allocate 512 bytes. GPU 0 has a total capacity of 14.75 GiB of which 1.06 MiB is free.',
    'allocator-oom',
    { device_index: 0, requested_bytes: 512, total_bytes: 15837691904, free_bytes: 1111491 },
  ],
  [
    'wrapped exception (pytorch #111363)',
    'NonRetryableExceptionWrapper: (OutOfMemoryError) CUDA out of memory. Tried to allocate 1.00 GiB. GPU 0 has a total capacity of 79.15 GiB of which 800.00 MiB is free.',
    'allocator-oom',
    { device_index: 0, requested_bytes: 1073741824, total_bytes: 84986665370, free_bytes: 838860800 },
  ],
  [
    '1.0 message wrapped inside a code comment',
    '    #   RuntimeError: CUDA out of memory. Tried to allocate 6.61 GiB \n    #   (GPU 1; 10.76 GiB total capacity; 1.25 GiB already\n    #   allocated; 2.39 GiB free; 6.38 GiB cached)',
    'allocator-oom',
    {
      device_index: 1,
      requested_bytes: 7097433457,
      total_bytes: 11553462026,
      free_bytes: 2566242959,
      allocated_bytes: 1342177280,
      reserved_bytes: 8192650117,
      reserved_unallocated_bytes: 6850472837,
    },
  ],
  [
    'markdown-quoted and wrapped inside a clause',
    '> RuntimeError: CUDA out of memory. Tried to allocate 20.00 MiB (GPU 0; 4.00 GiB total capacity; 2.86 GiB already\n> allocated; 0 bytes free; 2.93 GiB reserved in total by PyTorch)',
    'allocator-oom',
    {
      device_index: 0,
      requested_bytes: 20971520,
      total_bytes: 4294967296,
      free_bytes: 0,
      allocated_bytes: 3070901617,
      reserved_bytes: 3146063544,
      reserved_unallocated_bytes: 75161927,
    },
  ],
  [
    'edited: "CUDA out of memory." left out',
    'torch.cuda.OutOfMemoryError: Tried to allocate 552.00 MiB.\nGPU 0 has a total capacty of 14.74 GiB of which 558.19 MiB is free.\n  model/gsdpt.py line 109, in _forward_impl',
    'allocator-oom',
    { device_index: 0, requested_bytes: 578813952, total_bytes: 15826954486, free_bytes: 585304637 },
  ],
  [
    'exception type in source code only',
    '  File "memory.py", line 9\n    except torch.cuda.OutOfMemoryError:\n        pass',
    'not-oom',
    {},
  ],
  [
    'slurm cgroup OOM',
    'srun: error: nid002680: task 0: Out Of Memory\nslurmstepd: error: Detected 1 oom_kill event in StepId=647226.7. Some of the step tasks have been OOM Killed.',
    'host-oom',
    {},
  ],
  ['kubernetes pod', 'Last State: Terminated\n  Reason: OOMKilled\n  Exit Code: 137', 'host-oom', {}],
  [
    '0.4 THCudaCheck line alone',
    'THCudaCheck FAIL file=/pytorch/aten/src/THC/generic/THCStorage.cu line=58 error=2 : out of memory',
    'driver-oom',
    {},
  ],
  [
    'cuBLAS not initialised is only a look-alike',
    'RuntimeError: CUDA error: CUBLAS_STATUS_NOT_INITIALIZED when calling `cublasCreate(handle)`',
    'not-oom',
    {},
  ],
  ['HIP driver error', 'RuntimeError: HIP error: out of memory', 'driver-oom', {}],
  ['CUDA driver API error', 'RuntimeError: CUDA driver error: out of memory', 'driver-oom', {}],
  [
    'python MemoryError',
    'Traceback (most recent call last):\n  File "prep.py", line 3\nMemoryError',
    'host-oom',
    {},
  ],
  [
    'numpy ArrayMemoryError',
    'numpy.core._exceptions._ArrayMemoryError: Unable to allocate 3.00 GiB for an array with shape (1024, 1024, 384)',
    'host-oom',
    { requested_bytes: 3221225472 },
  ],
  [
    'bash job killed',
    './train.sh: line 12: 48211 Killed                  python train.py --batch 64',
    'host-oom',
    {},
  ],
  [
    'torch elastic SIGKILL',
    'torch.distributed.elastic.multiprocessing.api: [WARNING] Sending process 99 closing signal SIGTERM\nexitcode  : -9 (pid: 98)',
    'host-oom',
    {},
  ],
  ['word inside another word', 'the SHIP out of memory. Tried nothing', 'not-oom', {}],
  [
    'advice text',
    'If you run out of memory, reduce the batch size. CUDA out of memory errors are common.',
    'not-oom',
    {},
  ],
  ['exit code 1 and 1370', 'process exited with code 1\nexit code 1370', 'not-oom', {}],
];

for (const [name, text, kind, fields] of INLINE) {
  test(`inline ${name}`, () => {
    const report = parseOomReport(text);
    assert.equal(report.kind, kind);
    assert.deepEqual(fieldsOf(report), fields);
  });
}
