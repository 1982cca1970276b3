/** HTTP headers shared by the three processes. */

/** Correlates one request across VK, API and plugin: `<op>#<id>`. */
export const SESSION_HEADER = 'interlink-http-session';

export function newSessionId(op: string): string {
  return `${op}#${Math.floor(Math.random() * 2 ** 48).toString(36)}`;
}
