import { describe, expect, it } from 'vitest';
import {
  divideResource,
  memoryBytes,
  milliCpu,
  parseQuantity,
  resourceQuantity,
} from '../../../src/core/kube/quantity.ts';
import { codeOf } from '../../../src/errors/index.ts';

// Cases from the docker plugin's and the VK's former parsers, plus where Kubernetes
// (k8s.io/apimachinery resource.ParseQuantity) decided between them.
describe('parseQuantity', () => {
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
    ['100m', 0.1],
    ['1.5Gi', 1.5 * 2 ** 30],
    ['2e3', 2000],
    ['128974848', 128974848],
    ['1k', 1000],
    ['5Mi', 5 * 2 ** 20],
    ['1E', 1e18],
    ['1E3', 1000],
    ['1e+3', 1000],
    ['1e-3', 0.001],
    ['1.', 1],
    ['1.G', 1e9],
    ['+2', 2],
    ['250u', 250e-6],
    ['7n', 7e-9],
    ['1Ei', 2 ** 60],
    [' 1Gi ', 2 ** 30],
  ])('%j → %d', (q, v) => {
    expect(parseQuantity(q)).toBeCloseTo(v, 9);
  });

  it('scales decimal suffixes without float noise', () => {
    expect(parseQuantity('0.3k')).toBe(300);
    expect(parseQuantity('0.067G')).toBe(67e6);
    expect(memoryBytes('0.067G')).toBe(67e6);
    expect(parseQuantity('0.26m')).toBe(0.00026);
    expect(parseQuantity('100m')).toBe(0.1);
    expect(parseQuantity('1.1G')).toBe(1.1e9);
  });

  // The docker copy refused these, the VK copy passed them through; Kubernetes accepts a
  // negative quantity (validation, not parsing, refuses it for resources: resourceQuantity).
  it.each([
    ['-1', -1],
    ['-500m', -0.5],
    [-2, -2],
  ])('a negative quantity %j parses to %d', (q, v) => {
    expect(parseQuantity(q)).toBe(v);
  });

  // apimachinery caps at 2^63-1 and rounds a non-zero value up to 1n; the docker copy
  // refused "1e400", the VK copy returned Infinity.
  it.each([
    ['1e400', 2 ** 63],
    ['-1e400', -(2 ** 63)],
    ['9Ei', 2 ** 63],
    [Number.POSITIVE_INFINITY, 2 ** 63],
    ['1e-400', 1e-9],
    ['0.1n', 1e-9],
    ['0e400', 0],
    ['0', 0],
  ])('%j is clamped like a Quantity to %d', (q, v) => {
    expect(parseQuantity(q)).toBe(v);
  });

  it.each([
    '',
    'abc',
    '12Q',
    '1..2',
    '1 Mi',
    '12 apples',
    '.',
    'Mi',
    '1e',
    '1e1.5',
    '1ki',
    '1K',
    '0x10',
    'Infinity',
  ])('%j is refused as INVALID_INPUT with the field named', (q) => {
    expect(() => parseQuantity(q, 'limits.memory')).toThrow(/^limits\.memory: .*not a quantity/);
    try {
      parseQuantity(q, 'limits.memory');
    } catch (err) {
      expect(codeOf(err)).toBe('INVALID_INPUT');
      expect((err as { field?: string }).field).toBe('limits.memory');
    }
  });

  it('names no field when given none', () => {
    expect(() => parseQuantity('12 apples')).toThrow(/^"12 apples" is not a quantity/);
    expect(() => parseQuantity(Number.NaN)).toThrow(/not a quantity/);
  });
});

describe('resource amounts', () => {
  it.each(['-1', '-0.5m', -1])('%j is refused for a resource, with the field named', (q) => {
    expect(() => resourceQuantity(q, 'limits.memory')).toThrow(
      /^limits\.memory: .*greater than or equal to 0/,
    );
  });

  it('accepts zero and positive amounts', () => {
    expect(resourceQuantity('0')).toBe(0);
    expect(resourceQuantity('64Mi')).toBe(64 * 2 ** 20);
  });

  it.each([
    ['250m', 250],
    ['1', 1000],
    ['0.1', 100],
    ['1.0001', 1001],
    [0.5, 500],
    ['0.5m', 1],
  ])('cpu %s → %dm', (q, m) => {
    expect(milliCpu(q)).toBe(m);
  });

  it.each([
    ['64Mi', 67108864],
    ['1.5Ki', 1536],
    ['1000', 1000],
    ['0.5', 1],
    ['1.1Gi', 1181116007],
  ])('memory %s → %d bytes', (q, b) => {
    expect(memoryBytes(q)).toBe(b);
  });

  it.each(['', 'abc', '12Q', '-1', '1..2', '1 Mi'])(
    '%j is refused by memoryBytes/milliCpu with the field named',
    (q) => {
      expect(() => memoryBytes(q, 'limits.memory')).toThrow(/limits\.memory/);
      expect(() => milliCpu(q, 'limits.cpu')).toThrow(/limits\.cpu/);
    },
  );
});

describe('divideResource (resourceFieldRef arithmetic)', () => {
  it.each([
    ['cpu', 1.5, 1, 2],
    ['cpu', 1.5, 0.001, 1500],
    ['cpu', 0.1, 0.001, 100],
    ['cpu', 0.25, 1, 1],
    ['cpu', 0.0005, 0.001, 1],
    ['cpu', 2, 0, 2],
    ['memory', 2 ** 30, 2 ** 20, 1024],
    ['memory', 2 ** 30, 2 ** 30, 1],
    ['memory', 128 * 2 ** 20 + 1, 2 ** 20, 129],
    ['memory', 1.5, 1, 2],
    ['memory', 1e9, 0, 1e9],
    ['ephemeral-storage', 1e9, 1e6, 1000],
    ['memory', 0, 2 ** 20, 0],
  ])('%s %d / %d → %d', (name, value, divisor, want) => {
    expect(divideResource(name, value, divisor)).toBe(want);
  });
});
