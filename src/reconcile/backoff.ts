/**
 * How long a record whose read failed `attempts` times in a row waits before the next read: `baseMs` after the first
 * failure, doubling each time, never more than `maxMs`. A small spread (±10 %, from `random`) keeps records that
 * failed together (a provider outage) from all coming due in the same run again.
 */
export function backoffDelay(attempts: number, baseMs: number, maxMs: number, random: () => number = Math.random): number {
  if (!Number.isInteger(attempts) || attempts < 1) throw new RangeError(`attempts must be a positive integer, got ${attempts}`);
  const exponential = baseMs * 2 ** Math.min(attempts - 1, 40);
  const capped = Math.min(exponential, maxMs);
  return Math.max(0, Math.round(capped * (0.9 + 0.2 * random())));
}
