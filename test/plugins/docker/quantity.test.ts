import { describe, expect, it } from 'vitest';
import { memoryBytes, milliCpu, parseQuantity } from '../../../src/plugins/docker/quantity.ts';

describe('quantities', () => {
  it.each([
    ['1', 1],
    ['500m', 0.5],
    ['1.5', 1.5],
    ['128Mi', 128 * 2 ** 20],
    ['1Gi', 2 ** 30],
    ['1G', 1e9],
    ['100k', 1e5],
    ['1e3', 1000],
    ['.5', 0.5],
    [2, 2],
  ])('%s → %d', (q, v) => {
    expect(parseQuantity(q)).toBeCloseTo(v, 9);
  });

  it.each([
    ['250m', 250],
    ['1', 1000],
    ['0.1', 100],
    ['1.0001', 1001],
    [0.5, 500],
  ])('cpu %s → %dm', (q, m) => {
    expect(milliCpu(q)).toBe(m);
  });

  it.each([
    ['64Mi', 67108864],
    ['1.5Ki', 1536],
    ['1000', 1000],
    ['0.5', 1],
  ])('memory %s → %d bytes', (q, b) => {
    expect(memoryBytes(q)).toBe(b);
  });

  it.each(['', 'abc', '12Q', '-1', '1..2', '1 Mi'])('%j is refused with the field named', (q) => {
    expect(() => parseQuantity(q, 'limits.memory')).toThrow(/limits\.memory/);
  });
});
