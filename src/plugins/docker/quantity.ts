/**
 * Kubernetes resource quantities ("500m", "1.5", "128Mi", "1G", "1e3") → numbers. Pure.
 * Throws INVALID_INPUT naming `field` for anything that is not a quantity.
 */
import { invalidInput } from '../../errors/index.ts';

const BINARY: Record<string, number> = {
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
};
const DECIMAL: Record<string, number> = {
  n: 1e-9,
  u: 1e-6,
  m: 1e-3,
  '': 1,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
};

const RE = /^([+-]?(?:\d+(?:\.\d*)?|\.\d+))(Ki|Mi|Gi|Ti|Pi|Ei|[eE][+-]?\d+|n|u|m|k|M|G|T|P|E)?$/;

/** The value of a quantity as a plain number (cpu "250m" → 0.25, memory "1Ki" → 1024). */
export function parseQuantity(q: string | number, field = 'quantity'): number {
  if (typeof q === 'number') {
    if (!Number.isFinite(q) || q < 0) throw invalidInput(`${field}: ${q} is not a valid quantity`, field);
    return q;
  }
  const m = RE.exec(q.trim());
  if (!m)
    throw invalidInput(`${field}: "${q}" is not a Kubernetes quantity (e.g. 500m, 2, 128Mi, 1G)`, field);
  const base = Number(m[1]);
  const suffix = m[2] ?? '';
  let mult: number;
  if (suffix in BINARY) mult = BINARY[suffix]!;
  else if (/^[eE]/.test(suffix)) mult = 10 ** Number(suffix.slice(1));
  else mult = DECIMAL[suffix]!;
  const v = base * mult;
  if (!Number.isFinite(v) || v < 0) throw invalidInput(`${field}: "${q}" is out of range`, field);
  return v;
}

/** Memory in whole bytes, rounded up as the kubelet does. */
export function memoryBytes(q: string | number, field = 'memory'): number {
  return Math.ceil(parseQuantity(q, field));
}

/** CPU in millicores, rounded up (Kubernetes' smallest CPU unit is 1m). */
export function milliCpu(q: string | number, field = 'cpu'): number {
  return Math.ceil(parseQuantity(q, field) * 1000 - 1e-9);
}
