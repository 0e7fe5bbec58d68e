import { backoffDelay } from '../../src/reconcile/backoff';

describe('backoffDelay', () => {
  const middle = () => 0.5;

  it('starts at the base and doubles with each failure in a row', () => {
    expect([1, 2, 3, 4, 5].map((n) => backoffDelay(n, 1000, 1_000_000, middle))).toEqual([1000, 2000, 4000, 8000, 16000]);
  });

  it('never exceeds the cap, however many failures', () => {
    expect(backoffDelay(10, 1000, 60_000, middle)).toBe(60_000);
    expect(backoffDelay(500, 1000, 60_000, middle)).toBe(60_000);
  });

  it('spreads by at most 10 % either way', () => {
    expect(backoffDelay(3, 1000, 1_000_000, () => 0)).toBe(3600);
    expect(backoffDelay(3, 1000, 1_000_000, () => 0.999999)).toBe(4400);
  });

  it('refuses an attempt count that is not a positive integer', () => {
    expect(() => backoffDelay(0, 1000, 2000)).toThrow('attempts must be a positive integer, got 0');
    expect(() => backoffDelay(1.5, 1000, 2000)).toThrow(RangeError);
  });
});
