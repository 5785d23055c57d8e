// The real PyTorch 2.11 OOM messages of the H200 golden data (kind "cap12": a 12 GB card simulated with a
// memory fraction of 11.75 GiB) read field by field.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { diagnose, parseOomReport } from '../../src/memory/doctor/index.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SHARED = resolve(ROOT, '../shared');
const GOLDEN = resolve(SHARED, 'golden/memory/h200-hf-bert-public.jsonl');
const skip = !existsSync(GOLDEN) && 'needs ../shared (golden memory data)';

function cap12Messages(): Array<{ batch: number; seq: number; oom: string }> {
  return readFileSync(GOLDEN, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l))
    .filter((r) => r.kind === 'cap12' && typeof r.oom === 'string');
}

test('cap12: every golden OOM message is an allocator OOM under an 11.75 GiB cap', { skip }, () => {
  const rows = cap12Messages();
  assert.ok(rows.length >= 1);
  for (const row of rows) {
    const r = parseOomReport(row.oom);
    assert.equal(r.kind, 'allocator-oom');
    assert.equal(r.allowed_bytes, 11.75 * 2 ** 30);
    assert.equal(r.reserved_bytes, (r.allocated_bytes ?? NaN) + (r.reserved_unallocated_bytes ?? NaN));
    assert.ok(
      (r.reserved_bytes ?? 0) + (r.requested_bytes ?? 0) > (r.allowed_bytes ?? 0),
      'the request crosses the cap',
    );
    assert.equal(diagnose(r).cause, 'memory-fraction');
  }
});

test('cap12 fp32/eager/batch 32/seq 512: exact bytes (Decimal, round half up)', { skip }, () => {
  const row = cap12Messages().find((r) => r.batch === 32 && r.seq === 512);
  assert.ok(row, 'the batch 32 × 512 row');
  const {
    message: _m,
    source: _s,
    format: _f,
    ...fields
  } = parseOomReport(`Traceback (most recent call last):\n${row.oom}\n`);
  assert.deepEqual(fields, {
    kind: 'allocator-oom',
    device_index: 0,
    requested_bytes: 201326592, // 192.00 MiB
    total_bytes: 150109106995, // 139.80 GiB
    free_bytes: 136741021286, // 127.35 GiB
    process_in_use_bytes: 13357348291, // 12.44 GiB
    allowed_bytes: 12616466432, // 11.75 GiB
    allocated_bytes: 12229919375, // 11.39 GiB
    reserved_unallocated_bytes: 275859374, // 263.08 MiB
    reserved_bytes: 12505778749, // allocated + reserved-but-unallocated
  });
});
