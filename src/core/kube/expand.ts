/**
 * Kubernetes' `$(VAR)` expansion, as the kubelet applies it to env values, command, args and
 * subPathExpr (k8s.io/kubernetes third_party/forked/golang/expansion). Pure.
 */

/**
 * Expands `$(NAME)` references in `input`. `lookup` returns a name's value, or undefined to
 * leave the reference as written; it is called once per reference, in order. `$$` is an
 * escaped `$`; `$` before anything else, an unclosed `$(`, and a trailing `$` are kept.
 * Never throws; does not re-expand what `lookup` returns.
 */
export function expand(input: string, lookup: (name: string) => string | undefined): string {
  let out = '';
  let checkpoint = 0;
  for (let cursor = 0; cursor < input.length; cursor++) {
    if (input[cursor] !== '$' || cursor + 1 >= input.length) continue;
    out += input.slice(checkpoint, cursor);
    const rest = input.slice(cursor + 1);
    let advance = 1;
    if (rest[0] === '$') {
      out += '$';
    } else if (rest[0] === '(') {
      const close = rest.indexOf(')', 1);
      if (close > 0) {
        const name = rest.slice(1, close);
        out += lookup(name) ?? `$(${name})`;
        advance = close + 1;
      } else {
        out += '$(';
      }
    } else {
      out += `$${rest[0]}`;
    }
    cursor += advance;
    checkpoint = cursor + 1;
  }
  return out + input.slice(checkpoint);
}
