/**
 * Request bodies of the shared HTTP server (http-server.ts): JSON whatever the content type
 * (the interLink 0.6 wire is loose about it), depth-limited before it is parsed, refused
 * with a message that never echoes the body.
 */
import { ErrorCode, InterlinkError } from '../errors/index.ts';

/**
 * Whether `text` nests arrays/objects deeper than `max`. One linear pass that skips
 * strings; run before JSON.parse so a hostile body is refused before it is built.
 */
export function jsonDeeperThan(text: string, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c)
        i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      if (++depth > max) return true;
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
  return false;
}

/** The media type of a Content-Type header, for messages: only a plain `type/subtype` is echoed. */
export function describeContentType(header: string | undefined): string {
  if (header === undefined || header.trim() === '') return 'no content type';
  const media = header.split(';')[0]!.trim().toLowerCase();
  return /^[a-z0-9][a-z0-9!#$&^_.+-]{0,63}\/[a-z0-9][a-z0-9!#$&^_.+-]{0,63}$/.test(media)
    ? `content type ${media}`
    : 'an unrecognised content type';
}

/**
 * A request body as JSON, whatever content type it came with. Empty → undefined. Throws
 * INVALID_INPUT (400) naming what was sent and what is expected, never echoing the body.
 */
export function parseJsonBody(text: string, contentType: string | undefined, maxDepth: number): unknown {
  if (text.trim() === '') return undefined;
  if (jsonDeeperThan(text, maxDepth)) {
    throw new InterlinkError(
      ErrorCode.INVALID_INPUT,
      `request body nests JSON deeper than ${maxDepth} levels`,
    );
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new InterlinkError(
      ErrorCode.INVALID_INPUT,
      `malformed JSON body (sent with ${describeContentType(contentType)}): expected a JSON document, Content-Type: application/json`,
    );
  }
}
