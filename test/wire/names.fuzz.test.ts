/**
 * Property tests over the wire's name rules (src/wire/k8s.ts): random hostile strings in every
 * pod-derived name. Whatever a rule accepts can never be read as an option, leave a directory
 * or end a string early; whatever it refuses is refused with a message that does not quote
 * the value. Bounded here; FUZZ_RUNS=… runs longer.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  DataKey,
  DnsLabel,
  EnvPrefix,
  EnvVarName,
  Image,
  isRelativePath,
  Pod,
  ProcessString,
  RelativePath,
  SubPath,
} from '../../src/wire/k8s.ts';

const RUNS = Number(process.env.FUZZ_RUNS ?? 500);

/** Strings an attacker would try: options, traversal, NUL, newlines, plus arbitrary text. */
const hostile = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.constantFrom(
    '-',
    '--privileged',
    '--volume=/:/host',
    '-Ssh',
    '--split-string=sh -c id',
    '..',
    '../..',
    'a/../../etc',
    '/etc/passwd',
    '.',
    'a\0b',
    'a\nb',
    ' ',
    'x y',
    '$(id)',
    '`id`',
  ),
  fc
    .array(fc.constantFrom('a', '-', '..', '.', '/', '\0', '\n', 'B', '_', '='), { maxLength: 8 })
    .map((xs) => xs.join('')),
);

const accepts = (schema: { safeParse(v: unknown): { success: boolean } }, v: string) =>
  schema.safeParse(v).success;

describe('wire name rules hold for any string', () => {
  it('no accepted label or env name starts with "-" or holds NUL, "/" or whitespace; no key is a path', () => {
    fc.assert(
      fc.property(hostile, (s) => {
        for (const schema of [DnsLabel, EnvVarName]) {
          if (!accepts(schema, s)) continue;
          if (s.startsWith('-') || s.includes('\0') || s.includes('/') || /\s/.test(s)) return false;
        }
        // Data keys become file names (always joined under a directory, never argv): Kubernetes
        // allows a leading "-" there, but never a separator, "." or "..".
        if (accepts(DataKey, s) && (s.includes('/') || s.includes('\0') || s === '.' || s === '..'))
          return false;
        if (accepts(EnvPrefix, s) && (s.startsWith('-') || s.includes('='))) return false;
        if (accepts(Image, s) && (s.startsWith('-') || /[\s\p{Cc}]/u.test(s))) return false;
        if (accepts(ProcessString, s) && s.includes('\0')) return false;
        return true;
      }),
      { numRuns: RUNS },
    );
  });

  it('an accepted relative path never climbs, never starts at the root, never hides a control character', () => {
    fc.assert(
      fc.property(hostile, (s) => {
        for (const schema of [RelativePath, SubPath]) {
          if (!accepts(schema, s) || s === '') continue;
          const parts = s.split('/');
          if (s.startsWith('/') || parts.includes('..') || parts.includes('.') || parts.includes(''))
            return false;
          if (/\p{Cc}/u.test(s)) return false;
        }
        return accepts(RelativePath, s) === isRelativePath(s);
      }),
      { numRuns: RUNS },
    );
  });

  it('a pod carrying a hostile name is refused without quoting it', () => {
    fc.assert(
      fc.property(hostile, fc.constantFrom('volume', 'env', 'image', 'mount'), (s, where) => {
        const marker = `${s}ZZSECRETZZ`;
        const container: Record<string, unknown> = { name: 'c', image: 'busybox' };
        const spec: Record<string, unknown> = { containers: [container] };
        if (where === 'volume') spec.volumes = [{ name: marker, emptyDir: {} }];
        if (where === 'env') container.env = [{ name: `-${marker}`, value: 'v' }];
        if (where === 'image') container.image = `-${marker}`;
        if (where === 'mount')
          container.volumeMounts = [{ name: 'v', mountPath: '/x', subPath: `../${marker}` }];
        const r = Pod.safeParse({ metadata: { name: 'p', namespace: 'ns', uid: 'u-1' }, spec });
        expect(r.success).toBe(false);
        expect(JSON.stringify(r.error?.issues.map((i) => i.message))).not.toContain('ZZSECRETZZ');
      }),
      { numRuns: RUNS },
    );
  });
});
