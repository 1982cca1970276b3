/**
 * Kubernetes resource quantities ("500m", "1.5", "128Mi", "1G", "1e3") as numbers, with the
 * semantics of k8s.io/apimachinery resource.ParseQuantity, and the kubelet's arithmetic on
 * them. Pure. Errors are INVALID_INPUT naming `field` when one is given.
 *
 * Grammar: `[+-]<digits>[.<digits>]<suffix>`, suffix one of Ki Mi Gi Ti Pi Ei (powers of 2),
 * n u m "" k M G T P E (powers of 10) or e/E<signed integer>. As Quantity.UnmarshalJSON
 * does, white space around the text is ignored; JSON numbers are accepted as they are.
 */
import { invalidInput } from '../../errors/index.ts';

const BINARY: Record<string, number> = { Ki: 10, Mi: 20, Gi: 30, Ti: 40, Pi: 50, Ei: 60 };
const DECIMAL: Record<string, number> = { n: -9, u: -6, m: -3, '': 0, k: 3, M: 6, G: 9, T: 12, P: 15, E: 18 };

const RE = /^([+-]?(?:\d+(?:\.\d*)?|\.\d+))(?:(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E)|[eE]([+-]?\d+))?$/;

/** apimachinery caps a quantity's magnitude at maxAllowed (2^63-1)... */
const MAX = 2 ** 63 - 1;
/** ...and rounds a non-zero one up to at least 1n ("if you want some resources, you get some"). */
const NANO = 1e-9;

/** Millicores, rounded up; the epsilon absorbs float noise (0.1 * 1000 is not quite 100 for every input). */
const toMilli = (v: number) => Math.ceil(v * 1000 - 1e-9);

const prefix = (field: string | undefined) => (field === undefined ? '' : `${field}: `);

/**
 * The value of a quantity as a plain number (cpu "250m" → 0.25, memory "1Ki" → 1024).
 * Negative quantities are quantities (ParseQuantity accepts them); use resourceQuantity for
 * requests, limits and sizes.
 */
export function parseQuantity(q: string | number, field?: string): number {
  let v: number;
  // The sign of what was written: "1e-400" is 0 as a float but a positive quantity.
  let sign: number;
  if (typeof q === 'number') {
    // JSON.parse turns a too-large literal into ±Infinity, which the cap below handles; NaN
    // cannot come from JSON.
    if (Number.isNaN(q)) throw invalidInput(`${prefix(field)}NaN is not a quantity`, field);
    v = q;
    sign = Math.sign(q);
  } else {
    const m = RE.exec(q.trim());
    if (!m) throw invalidInput(`${prefix(field)}"${q}" is not a quantity (e.g. 500m, 2, 128Mi, 1G)`, field);
    const [, number = '', suffix = '', exponent] = m;
    sign = Math.sign(Number(number));
    if (sign === 0) v = 0;
    else if (suffix in BINARY) v = Number(number) * 2 ** BINARY[suffix]!;
    // Let the decimal parser scale by the power of ten: "0.067G" is exactly 67000000 bytes,
    // where 0.067 * 1e9 is 67000000.00000001 and would round up to one byte more.
    else v = Number(`${number}e${exponent ?? DECIMAL[suffix]!}`);
  }
  if (Math.abs(v) > MAX) v = Math.sign(v) * MAX;
  else if (sign !== 0 && Math.abs(v) < NANO) v = sign * NANO;
  return v;
}

/**
 * A resource amount (requests, limits, divisors, emptyDir sizeLimit): a quantity that is not
 * negative, as the apiserver validates them (ValidateNonnegativeQuantity).
 */
export function resourceQuantity(q: string | number, field?: string): number {
  const v = parseQuantity(q, field);
  if (v < 0) throw invalidInput(`${prefix(field)}"${q}" must be greater than or equal to 0`, field);
  return v;
}

/** Memory in whole bytes, rounded up as Quantity.Value() does. */
export function memoryBytes(q: string | number, field = 'memory'): number {
  return Math.ceil(resourceQuantity(q, field));
}

/** CPU in millicores, rounded up as Quantity.MilliValue() does (Kubernetes' smallest CPU unit is 1m). */
export function milliCpu(q: string | number, field = 'cpu'): number {
  return toMilli(resourceQuantity(q, field));
}

/**
 * A resourceFieldRef value: `value` of resource `name` (limits.cpu → "cpu") divided by
 * `divisor` and rounded up, in the kubelet's integer arithmetic
 * (pkg/api/v1/resource.ExtractContainerResourceValue): cpu in millicores, anything else in
 * whole units, so 1500m / 1 is 2 and 0.1 / 1m is exactly 100. A zero divisor is the unset
 * one, 1; the caller refuses a negative one.
 */
export function divideResource(name: string, value: number, divisor: number): number {
  const d = divisor === 0 ? 1 : divisor;
  if (name === 'cpu') return Math.ceil(toMilli(value) / toMilli(d));
  return Math.ceil(Math.ceil(value) / Math.ceil(d));
}
