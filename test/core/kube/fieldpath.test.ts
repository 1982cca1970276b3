import { describe, expect, it } from 'vitest';
import { formatMap, goQuote, metadataFieldValue } from '../../../src/core/kube/fieldpath.ts';

describe('goQuote (Go strconv.Quote)', () => {
  it.each([
    ['plain', '"plain"'],
    ['say "hi"', '"say \\"hi\\""'],
    ['a\nb\tc\\', '"a\\nb\\tc\\\\"'],
    ['\u0001\u007f', '"\\x01\\x7f"'],
    ['ünï 🚀', '"ünï 🚀"'],
    ['\u0007\b\f\r\v', '"\\a\\b\\f\\r\\v"'],
    // Not unicode.IsPrint: C1 controls, format characters, separators other than ' ', private use.
    ['\u0085\u00ad\ufeff', '"\\u0085\\u00ad\\ufeff"'],
    ['a\u00a0b\u2028c', '"a\\u00a0b\\u2028c"'],
    ['\u200b', '"\\u200b"'],
    ['\ue000\u{f0000}', '"\\ue000\\U000f0000"'],
    ['\ud800', '"\ufffd"'],
    ['日本語 é ́', '"日本語 é ́"'],
  ])('goQuote(%j)', (s, q) => expect(goQuote(s)).toBe(q));
});

describe('formatMap (fieldpath.FormatMap)', () => {
  it('sorts keys and quotes values like the kubelet', () => {
    expect(formatMap({ b: 'x"y', a: 'line1\nline2' })).toBe('a="line1\\nline2"\nb="x\\"y"');
    expect(formatMap({})).toBe('');
    expect(formatMap(undefined)).toBe('');
  });
});

describe('metadataFieldValue (fieldpath.ExtractFieldPathAsString)', () => {
  const meta = {
    name: 'web',
    namespace: 'ns1',
    uid: 'uid-1',
    labels: { b: '2', a: 'one"two' },
    annotations: { note: 'hi' },
  };
  it.each([
    ['metadata.name', 'web'],
    ['metadata.namespace', 'ns1'],
    ['metadata.uid', 'uid-1'],
    ["metadata.labels['b']", '2'],
    ["metadata.labels['missing']", ''],
    ["metadata.annotations['note']", 'hi'],
    ['metadata.labels', 'a="one\\"two"\nb="2"'],
    ['metadata.annotations', 'note="hi"'],
    ['spec.nodeName', undefined],
    ['metadata.generateName', undefined],
    ["metadata.name['x']", undefined],
  ])('%s → %j', (path, want) => expect(metadataFieldValue(meta, path)).toBe(want));

  it('reads absent maps as empty', () => {
    const bare = { name: 'n', namespace: 'ns', uid: 'u' };
    expect(metadataFieldValue(bare, 'metadata.labels')).toBe('');
    expect(metadataFieldValue(bare, "metadata.annotations['x']")).toBe('');
  });
});
