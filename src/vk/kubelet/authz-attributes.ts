/**
 * Request → authorization attributes, as the kubelet computes them
 * (pkg/kubelet/server/auth.go): the verb from the HTTP method, the resource `nodes/<node>`,
 * the subresource from the path. Pure; tested by a table.
 *
 * With the KubeletFineGrainedAuthz feature (default on since 1.33) the kubelet first asks
 * for a fine-grained subresource (`pods`, `healthz`, `configz`) and falls back to `proxy`;
 * `subresources` lists them in the order to ask.
 */

export interface RequestAttributes {
  verb: string;
  resource: 'nodes';
  name: string;
  /** Subresources to try in order; the first one allowed authorizes the request. */
  subresources: string[];
}

const VERBS: Record<string, string> = {
  GET: 'get',
  HEAD: 'get',
  POST: 'create',
  PUT: 'update',
  PATCH: 'patch',
  DELETE: 'delete',
};

/** `isSubpath` of the kubelet: the path is `prefix` or below it. */
function under(path: string, prefix: string): boolean {
  const p = prefix.endsWith('/') ? prefix.slice(0, -1) : prefix;
  return path === p || path.startsWith(`${p}/`);
}

export function requestAttributes(method: string, rawPath: string, nodeName: string): RequestAttributes {
  const path = rawPath.split('?')[0] ?? '/';
  const verb = VERBS[method.toUpperCase()] ?? method.toLowerCase();
  let subresources: string[];
  if (under(path, '/stats')) subresources = ['stats'];
  else if (under(path, '/metrics')) subresources = ['metrics'];
  else if (under(path, '/logs')) subresources = ['log'];
  else if (under(path, '/checkpoint')) subresources = ['checkpoint'];
  else if (under(path, '/pods')) subresources = ['pods', 'proxy'];
  else if (under(path, '/runningpods')) subresources = ['pods', 'proxy'];
  else if (under(path, '/healthz')) subresources = ['healthz', 'proxy'];
  else if (under(path, '/configz')) subresources = ['configz', 'proxy'];
  else subresources = ['proxy'];
  return { verb, resource: 'nodes', name: nodeName, subresources };
}
