import { describe, expect, it } from 'vitest';
import { expand } from '../../../src/core/kube/expand.ts';

// Cases from the docker plugin's and the VK's former copies, against the kubelet's rules
// (third_party/forked/golang/expansion).
describe('$(VAR) expansion (kubelet semantics)', () => {
  const vars = new Map([
    ['A', 'x'],
    ['EMPTY', ''],
  ]);
  it.each([
    ['$(A)', 'x'],
    ['pre-$(A)-post', 'pre-x-post'],
    ['$(EMPTY)', ''],
    ['$(UNDEFINED)', '$(UNDEFINED)'],
    ['$$(A)', '$(A)'],
    ['$$', '$'],
    ['$$$(A)', '$x'],
    ['$A', '$A'],
    ['$HOME and `id`', '$HOME and `id`'],
    ['a$', 'a$'],
    ['$(A', '$(A'],
    ['$(A)$(A)', 'xx'],
    ['"quoted" \'single\'\nnewline', '"quoted" \'single\'\nnewline'],
  ])('%j → %j', (input, want) => {
    expect(expand(input, (n) => vars.get(n))).toBe(want);
  });

  it.each([
    ['no refs', 'no refs'],
    ['$(A)', 'va'],
    ['$(A)$(B)', 'va$(B)'],
    ['$$(A)', '$(A)'],
    ['$$$(A)', '$va'],
    ['$', '$'],
    ['a$', 'a$'],
    ['$(A', '$(A'],
    ['$x $(A) `$(A)`', '$x va `va`'],
    ['$()', '$()'],
    // A reference runs to the first ")", whatever it holds: the name here is "$(A".
    ['$($(A)', '$($(A)'],
    ['$(A $$)', '$(A $$)'],
    ['$(A))', 'va)'],
    ['$😀', '$😀'],
  ])('%j → %j (A=va)', (input, out) => {
    expect(expand(input, (n) => (n === 'A' ? 'va' : undefined))).toBe(out);
  });

  it('does not re-expand a value and looks each reference up once, in order', () => {
    const asked: string[] = [];
    const out = expand('$(A)-$(B)-$(A)', (n) => {
      asked.push(n);
      return n === 'A' ? '$(B)' : undefined;
    });
    expect(out).toBe('$(B)-$(B)-$(B)');
    expect(asked).toEqual(['A', 'B', 'A']);
  });
});
