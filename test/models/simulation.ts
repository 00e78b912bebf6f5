/**
 * Seeded randomness and the one agreement rule of the model validations: a prediction agrees
 * with a measurement when it is within 2 % of it (relative) or inside the measurement's 99 %
 * confidence interval.
 */
import { seededRandom } from '../../src/verify/workload.js';

/** A seeded uniform generator in [0, 1): tenure/verify's mulberry32, enough for 10^7 draws. */
export const seeded: (seed: number) => () => number = seededRandom;

/** A normal sampler (Box–Muller) over a uniform generator. */
export function normalSampler(u: () => number, mean: number, std: number): () => number {
  return () => mean + std * Math.sqrt(-2 * Math.log(1 - u())) * Math.cos(2 * Math.PI * u());
}

/** An exponential sampler of the given mean. */
export function exponentialSampler(u: () => number, mean: number): () => number {
  return () => -mean * Math.log(1 - u());
}

/** z of a two-sided 99 % interval. */
export const Z99 = 2.5758293035489;

/** A measured value with its 99 % interval. */
export interface Estimate {
  value: number;
  low: number;
  high: number;
}

/** The 99 % interval of a proportion of `hits` in `trials` (Wilson score interval). */
export function proportion(hits: number, trials: number): Estimate {
  const p = hits / trials;
  const z2 = Z99 * Z99;
  const centre = (p + z2 / (2 * trials)) / (1 + z2 / trials);
  const half = (Z99 * Math.sqrt((p * (1 - p)) / trials + z2 / (4 * trials * trials))) / (1 + z2 / trials);
  return { value: p, low: centre - half, high: centre + half };
}

/** The mean of independent samples (or of batch means) with its 99 % interval. */
export function meanOf(xs: readonly number[]): Estimate {
  const n = xs.length;
  const mean = xs.reduce((s, x) => s + x, 0) / n;
  const variance = xs.reduce((s, x) => s + (x - mean) ** 2, 0) / (n - 1);
  const half = Z99 * Math.sqrt(variance / n);
  return { value: mean, low: mean - half, high: mean + half };
}

/** The p-quantile of a sample with its 99 % distribution-free interval (order statistics). */
export function quantileOf(xs: readonly number[], p: number): Estimate {
  const sorted = [...xs].sort((a, b) => a - b);
  const n = sorted.length;
  const at = (r: number) => sorted[Math.min(n - 1, Math.max(0, Math.round(r)))]!;
  const half = Z99 * Math.sqrt(n * p * (1 - p));
  return { value: at(n * p - 0.5), low: at(n * p - half - 1), high: at(n * p + half) };
}

/** Whether a prediction agrees with a measurement: within 2 % relative, or inside its 99 % interval. */
export function agrees(predicted: number, measured: Estimate): boolean {
  const within2 = Math.abs(predicted - measured.value) <= 0.02 * Math.abs(measured.value);
  return within2 || (predicted >= measured.low && predicted <= measured.high);
}

/** A readable line for failure messages. */
export function show(predicted: number, measured: Estimate): string {
  return `predicted ${predicted}, measured ${measured.value} (99 % interval ${measured.low}..${measured.high})`;
}
