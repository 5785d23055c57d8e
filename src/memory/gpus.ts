// The table of common GPUs (memory as the driver reports it, bf16 support, rough speeds) and size parsing.
// Speeds are approximate public spec-sheet figures: used only to rank configurations, never for memory.
import { RefitError } from '../errors.ts';
import { closestName } from '../suggest.ts';
import type { GpuSpec } from './types.ts';

const GIB = 2 ** 30;
// Row: name, reported GiB, bf16, fp32 TFLOP/s, 16-bit tensor TFLOP/s (fp32 accumulate, dense), GB/s.
// GeForce cards report about nominal − 0.25 GiB (RTX 3060 12 GB → "11.75 GiB total capacity").
type Row = [string, number, boolean, number, number, number];
const ROWS: Row[] = [
  ['GTX 1050', 1.75, false, 1.9, 0, 112],
  ['GTX 1050 Ti', 3.75, false, 2.1, 0, 112],
  ['GTX 1060 3GB', 2.75, false, 3.9, 0, 192],
  ['GTX 1060', 5.75, false, 4.4, 0, 192],
  ['GTX 1070', 7.75, false, 6.5, 0, 256],
  ['GTX 1070 Ti', 7.75, false, 8.2, 0, 256],
  ['GTX 1080', 7.75, false, 8.9, 0, 320],
  ['GTX 1080 Ti', 10.75, false, 11.3, 0, 484],
  ['Titan Xp', 11.75, false, 12.1, 0, 548],
  ['GTX 1660', 5.75, false, 5.0, 0, 192],
  ['GTX 1660 Super', 5.75, false, 5.0, 0, 336],
  ['GTX 1660 Ti', 5.75, false, 5.4, 0, 288],
  ['RTX 2060', 5.75, false, 6.5, 26, 336],
  ['RTX 2060 12GB', 11.75, false, 7.2, 29, 360],
  ['RTX 2060 Super', 7.75, false, 7.2, 29, 448],
  ['RTX 2070', 7.75, false, 7.5, 30, 448],
  ['RTX 2070 Super', 7.75, false, 9.1, 36, 448],
  ['RTX 2080', 7.75, false, 10.1, 40, 448],
  ['RTX 2080 Super', 7.75, false, 11.2, 45, 496],
  ['RTX 2080 Ti', 10.75, false, 13.4, 54, 616],
  ['Titan RTX', 23.75, false, 16.3, 130, 672],
  ['RTX 3050', 7.75, true, 9.1, 18, 224],
  ['RTX 3060', 11.75, true, 12.7, 25, 360],
  ['RTX 3060 8GB', 7.75, true, 12.7, 25, 240],
  ['RTX 3060 Ti', 7.75, true, 16.2, 32, 448],
  ['RTX 3070', 7.75, true, 20.3, 41, 448],
  ['RTX 3070 Ti', 7.75, true, 21.7, 43, 608],
  ['RTX 3080', 9.75, true, 29.8, 60, 760],
  ['RTX 3080 12GB', 11.75, true, 30.6, 61, 912],
  ['RTX 3080 Ti', 11.75, true, 34.1, 68, 912],
  ['RTX 3090', 23.69, true, 35.6, 71, 936],
  ['RTX 3090 Ti', 23.69, true, 40.0, 80, 1008],
  ['RTX 4060', 7.75, true, 15.1, 30, 272],
  ['RTX 4060 Ti', 7.75, true, 22.1, 44, 288],
  ['RTX 4060 Ti 16GB', 15.7, true, 22.1, 44, 288],
  ['RTX 4070', 11.72, true, 29.1, 58, 504],
  ['RTX 4070 Super', 11.72, true, 35.5, 71, 504],
  ['RTX 4070 Ti', 11.72, true, 40.1, 80, 504],
  ['RTX 4070 Ti Super', 15.7, true, 44.1, 88, 672],
  ['RTX 4080', 15.7, true, 48.7, 97, 717],
  ['RTX 4080 Super', 15.7, true, 52.2, 104, 736],
  ['RTX 4090', 23.65, true, 82.6, 165, 1008],
  ['T4', 14.75, false, 8.1, 65, 320],
  ['V100 16GB', 15.77, false, 15.7, 125, 900],
  ['V100 32GB', 31.74, false, 15.7, 125, 900],
  ['A10', 22.07, true, 31.2, 125, 600],
  ['A100 40GB', 39.39, true, 19.5, 312, 1555],
  ['A100 80GB', 79.15, true, 19.5, 312, 2039],
  ['L4', 22.03, true, 30.3, 121, 300],
  ['L40S', 44.39, true, 91.6, 362, 864],
  ['H100', 79.1, true, 67, 989, 3350],
  ['H100 PCIe', 79.1, true, 51, 756, 2000],
  ['H200', 139.8, true, 67, 989, 4800],
  // other common rentals and workstations
  ['P100', 15.89, false, 9.3, 0, 732],
  ['P40', 22.38, false, 11.8, 0, 346],
  ['Titan V', 11.78, false, 14.9, 110, 653],
  ['A10G', 22.3, true, 31.2, 70, 600],
  ['A30', 23.5, true, 10.3, 165, 933],
  ['A40', 44.35, true, 37.4, 150, 696],
  ['RTX A4000', 15.73, true, 19.2, 77, 448],
  ['RTX A5000', 23.68, true, 27.8, 111, 768],
  ['RTX A6000', 47.53, true, 38.7, 155, 768],
  ['RTX 6000 Ada', 47.5, true, 91.1, 364, 960],
];

/**
 * A card's link to host memory: its PCIe generation and width (x8 cards: the RTX 3050, 4060 and 4060 Ti), or
 * NVLink-C2C with its GB/s one way. A card not named here is taken as PCIe 3.0 x16.
 */
function hostLinks(): Record<string, string> {
  const out: Record<string, string> = {};
  const gen = (g: string, names: string[], lanes = 16) =>
    names.forEach((n) => (out[n] = `PCIe ${g} x${lanes}`));
  gen('3.0', ['GTX 1050', 'GTX 1050 Ti', 'GTX 1060 3GB', 'GTX 1060', 'GTX 1070', 'GTX 1070 Ti', 'GTX 1080']);
  gen('3.0', [
    'GTX 1080 Ti',
    'Titan Xp',
    'GTX 1660',
    'GTX 1660 Super',
    'GTX 1660 Ti',
    'RTX 2060',
    'RTX 2060 12GB',
  ]);
  gen('3.0', ['RTX 2060 Super', 'RTX 2070', 'RTX 2070 Super', 'RTX 2080', 'RTX 2080 Super', 'RTX 2080 Ti']);
  gen('3.0', ['Titan RTX', 'T4', 'V100 16GB', 'V100 32GB', 'P100', 'P40', 'Titan V']);
  gen('4.0', ['RTX 3050', 'RTX 4060', 'RTX 4060 Ti', 'RTX 4060 Ti 16GB'], 8);
  gen('4.0', [
    'RTX 3060',
    'RTX 3060 8GB',
    'RTX 3060 Ti',
    'RTX 3070',
    'RTX 3070 Ti',
    'RTX 3080',
    'RTX 3080 12GB',
  ]);
  gen('4.0', ['RTX 3080 Ti', 'RTX 3090', 'RTX 3090 Ti', 'RTX 4070', 'RTX 4070 Super', 'RTX 4070 Ti']);
  gen('4.0', [
    'RTX 4070 Ti Super',
    'RTX 4080',
    'RTX 4080 Super',
    'RTX 4090',
    'A10',
    'A100 40GB',
    'A100 80GB',
  ]);
  gen('4.0', ['L4', 'L40S', 'A10G', 'A30', 'A40', 'RTX A4000', 'RTX A5000', 'RTX A6000', 'RTX 6000 Ada']);
  gen('5.0', ['H100', 'H100 PCIe', 'H200']);
  return out;
}

/** Every known card's host link (hostLinks). */
const HOST_LINKS: Readonly<Record<string, string>> = Object.freeze(hostLinks());
/** A card refit does not know (or a size): the slowest common link. */
export const DEFAULT_HOST_LINK = 'PCIe 3.0 x16';
/** PCIe GB/s per lane and direction after encoding (8b/10b is gone since 3.0: 128b/130b). */
const PCIE_LANE_GBS: Readonly<Record<string, number>> = Object.freeze({
  '3.0': 0.985,
  '4.0': 1.969,
  '5.0': 3.938,
});
/** The share of a link's rate pinned-memory copies reach (cudaMemcpyAsync between pinned host and the card). */
const LINK_EFFICIENCY = 0.8;

/** Usable GB/s one way of a link as HOST_LINKS spells it (`PCIe 4.0 x16`, `NVLink-C2C 450`). */
export function linkGbs(link: string): number {
  const pcie = /^PCIe (\d\.\d) x(\d+)$/.exec(link);
  if (pcie && PCIE_LANE_GBS[pcie[1]]) return PCIE_LANE_GBS[pcie[1]] * Number(pcie[2]) * LINK_EFFICIENCY;
  const c2c = /^NVLink-C2C (\d+)$/.exec(link);
  if (c2c) return Number(c2c[1]) * LINK_EFFICIENCY;
  throw new Error(`unknown host link ${link}`);
}

/** Every known card by display name. */
export const GPUS: Readonly<Record<string, GpuSpec>> = Object.freeze(
  Object.fromEntries(
    ROWS.map(([name, gib, bf16, f32, t16, bw]) => [
      name,
      {
        name,
        memory_bytes: Math.round(gib * GIB),
        bf16,
        fp32_tflops: f32,
        tensor16_tflops: t16,
        bandwidth_gbs: bw,
        hopper: name.startsWith('H100') || name === 'H200',
        host_link: HOST_LINKS[name] ?? DEFAULT_HOST_LINK,
        host_link_gbs: linkGbs(HOST_LINKS[name] ?? DEFAULT_HOST_LINK),
      },
    ]),
  ),
);

/** A card's host link and its usable GB/s (a card given by its size: DEFAULT_HOST_LINK). */
export function hostLink(gpu: GpuSpec): { link: string; gbs: number } {
  const link = gpu.host_link ?? DEFAULT_HOST_LINK;
  return { link, gbs: gpu.host_link_gbs ?? linkGbs(link) };
}

const UNITS: Record<string, number> = {
  b: 1,
  byte: 1,
  bytes: 1,
  k: 1024,
  kb: 1e3,
  kib: 1024,
  m: 2 ** 20,
  mb: 1e6,
  mib: 2 ** 20,
  g: GIB,
  gb: 1e9,
  gib: GIB,
  t: 2 ** 40,
  tb: 1e12,
  tib: 2 ** 40,
};

/** Bytes of a size such as `12GB` (10^9), `11.75GiB` (2^30), `12000MiB` or `4096` (bytes); throws E_SIZE. */
export function parseSize(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?|\.\d+)\s*([a-z]*)\s*$/i.exec(String(text));
  const unit = m ? (m[2] || 'b').toLowerCase() : '';
  if (!m || !Object.hasOwn(UNITS, unit)) {
    throw new RefitError(
      'E_SIZE',
      `cannot read size '${text}': write a number and a unit, e.g. 12GB, 11.75GiB or 12000MiB`,
    );
  }
  const bytes = Math.round(Number(m[1]) * UNITS[unit]);
  if (!(bytes > 0)) throw new RefitError('E_SIZE', `size '${text}' must be above zero`);
  return bytes;
}

function norm(s: string): string {
  return s
    .toLowerCase()
    .replace(/nvidia|geforce|tesla|quadro/g, '')
    .replace(/[\s\-_]+/g, '');
}

// nvidia-smi spellings carry form factor and memory type ('A100-SXM4-80GB', 'H100 80GB HBM3'): try without them,
// then without a memory size the table does not need to tell cards apart
function lookupKeys(raw: string): string[] {
  const words = raw
    .toLowerCase()
    .replace(/nvidia|geforce|tesla|quadro/g, ' ')
    .split(/[\s\-_]+/)
    .filter(Boolean);
  const bare = words.filter((w) => !/^(sxm\d?|hbm\d?e?|nvl)$/.test(w));
  return [words.join(''), bare.join(''), bare.filter((w) => !/^\d+gb$/.test(w)).join('')];
}

/** A card from the table (`RTX 3060`, `nvidia geforce rtx 3060`, `3060`) or a size (`12GB`); unknown → E_GPU. */
export function resolveGpu(nameOrSize: string): GpuSpec {
  const q = norm(nameOrSize);
  const names = Object.keys(GPUS);
  for (const key of lookupKeys(nameOrSize)) {
    const exact = names.find((n) => norm(n) === key);
    if (exact) return GPUS[exact];
  }
  if (
    /^\s*[\d.]+\s*[a-z]*\s*$/i.test(nameOrSize) &&
    /[a-z]/i.test(nameOrSize) &&
    !/^\d+\s*(ti|super)$/i.test(nameOrSize.trim())
  ) {
    // a size: the card's memory only; bf16 unknown → assumed absent (fp16 AMP is offered instead)
    return { name: nameOrSize.trim(), memory_bytes: parseSize(nameOrSize), bf16: false };
  }
  const partial = q.length >= 2 ? names.filter((n) => norm(n).endsWith(q) || norm(n).startsWith(q)) : [];
  if (partial.length === 1) return GPUS[partial[0]];
  if (partial.length > 1) {
    throw new RefitError(
      'E_GPU',
      `GPU '${nameOrSize}' is ambiguous: ${partial.join(', ')}; give the full name or a size such as 12GB`,
    );
  }
  throw new RefitError(
    'E_GPU',
    `unknown GPU '${nameOrSize}'; did you mean ` +
      `'${closestName(nameOrSize, names, { normalise: norm, contains: true })}'? (or give its memory, e.g. --gpu 12GB)`,
  );
}
