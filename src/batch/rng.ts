// Seeds for batch planning, so batch plans are reproducible from (seed, epoch). Pure functions.
export { seededRandom, shuffleInPlace } from '../rng.ts';

/** Mixes a run seed and an epoch number into one 32-bit seed (different epochs → unrelated orders). */
export function epochSeed(seed: number, epoch: number): number {
  let h = (seed ^ 0x9e3779b9) >>> 0;
  h = Math.imul(h ^ (epoch + 0x85ebca6b), 0xc2b2ae35) >>> 0;
  return (h ^ (h >>> 16)) >>> 0;
}
