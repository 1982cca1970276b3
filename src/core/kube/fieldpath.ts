/**
 * The metadata half of the downward API, as k8s.io/kubernetes pkg/fieldpath computes it
 * (ExtractFieldPathAsString, FormatMap). The spec/status paths depend on where the pod runs,
 * so each caller resolves those itself. Pure.
 */

export interface ObjectMetaView {
  name: string;
  namespace: string;
  uid: string;
  labels?: Record<string, string> | undefined;
  annotations?: Record<string, string> | undefined;
}

const SUBSCRIPT = /^metadata\.(labels|annotations)\['(.*)'\]$/;

/** Go's strconv.Quote (fmt %q), which FormatMap uses for label/annotation values. */
export function goQuote(s: string): string {
  let out = '"';
  for (const ch of s) {
    const cp = ch.codePointAt(0)!;
    switch (ch) {
      case '"':
        out += '\\"';
        continue;
      case '\\':
        out += '\\\\';
        continue;
      case '\u0007':
        out += '\\a';
        continue;
      case '\b':
        out += '\\b';
        continue;
      case '\f':
        out += '\\f';
        continue;
      case '\n':
        out += '\\n';
        continue;
      case '\r':
        out += '\\r';
        continue;
      case '\t':
        out += '\\t';
        continue;
      case '\v':
        out += '\\v';
        continue;
    }
    if (cp < 0x20 || cp === 0x7f) out += `\\x${cp.toString(16).padStart(2, '0')}`;
    // A lone surrogate cannot reach the kubelet: its JSON decoder makes it U+FFFD, which is printable.
    else if (cp >= 0xd800 && cp <= 0xdfff) out += '\ufffd';
    // unicode.IsPrint: letters, marks, numbers, punctuation, symbols and the ASCII space.
    else if (ch === ' ' || /^[\p{L}\p{M}\p{N}\p{P}\p{S}]$/u.test(ch)) out += ch;
    else
      out +=
        cp > 0xffff ? `\\U${cp.toString(16).padStart(8, '0')}` : `\\u${cp.toString(16).padStart(4, '0')}`;
  }
  return `${out}"`;
}

/** `k="v"` lines, keys sorted, no trailing newline (fieldpath.FormatMap). */
export function formatMap(m: Record<string, string> | undefined): string {
  return Object.keys(m ?? {})
    .sort()
    .map((k) => `${k}=${goQuote(m![k]!)}`)
    .join('\n');
}

/**
 * The value of a `metadata.*` field path: name, namespace, uid, `labels['k']` and
 * `annotations['k']` (empty when absent), and the whole `labels`/`annotations` maps
 * (FormatMap; the apiserver allows those only in downwardAPI volumes, a caller's check).
 * Undefined for any other path.
 */
export function metadataFieldValue(meta: ObjectMetaView, fieldPath: string): string | undefined {
  const sub = SUBSCRIPT.exec(fieldPath);
  if (sub) {
    const map = sub[1] === 'labels' ? meta.labels : meta.annotations;
    return map?.[sub[2]!] ?? '';
  }
  switch (fieldPath) {
    case 'metadata.name':
      return meta.name;
    case 'metadata.namespace':
      return meta.namespace;
    case 'metadata.uid':
      return meta.uid;
    case 'metadata.labels':
      return formatMap(meta.labels);
    case 'metadata.annotations':
      return formatMap(meta.annotations);
  }
  return undefined;
}
