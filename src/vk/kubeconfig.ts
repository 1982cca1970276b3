/**
 * The VK's kubeconfig loader, in place of `@kubernetes/client-node`'s `KubeConfig`: that
 * class's module imports the generated index of every API group (~85 MiB of RSS for a
 * process that uses six of them; docs/performance.md "Memory budget").
 *
 * What kubectl reads, and no more:
 *   - files: `KUBECONFIG` may list several (`:`-separated); as kubectl merges them, the first
 *     file to name a cluster, user or context wins and so does the first `current-context`;
 *     relative paths (certificate files, token files, an exec command with a `/`) are
 *     relative to the file that names them; `--context` picks another context;
 *   - in-cluster: `KUBERNETES_SERVICE_HOST`/`_PORT`, the service account's CA and token
 *     file (the token file is re-read, as it rotates: src/vk/kube-connection.ts);
 *   - cluster: server, certificate-authority(-data), insecure-skip-tls-verify,
 *     tls-server-name, proxy-url (http and https proxies);
 *   - user: client-certificate(-data)/client-key(-data), token, tokenFile, username/password,
 *     `as`/`as-groups` (impersonation), exec credential plugins
 *     (client.authentication.k8s.io/v1 and v1beta1).
 *
 * `auth-provider` (gcp, azure, oidc: removed from kubectl in 1.26) and socks proxies are
 * refused with a message naming the replacement. Everything here is pure but `readKubeconfigs`.
 */
import { readFileSync } from 'node:fs';
import { delimiter, dirname, isAbsolute, resolve } from 'node:path';
import { parse } from 'yaml';
import { invalidInput } from '../errors/index.ts';

/** PEM material: inline (decoded from a `*-data` field) or a file to read. */
export type Pem = { data: string } | { file: string };

export interface ExecConfig {
  apiVersion: 'client.authentication.k8s.io/v1' | 'client.authentication.k8s.io/v1beta1';
  command: string;
  args: string[];
  env: Array<{ name: string; value: string }>;
  provideClusterInfo: boolean;
  interactiveMode: string | undefined;
  installHint: string | undefined;
}

export interface KubeUserAuth {
  token?: string;
  tokenFile?: string;
  username?: string;
  password?: string;
  exec?: ExecConfig;
  impersonate?: string;
  impersonateGroups?: string[];
}

/** The current context, resolved: everything a connection needs. */
export interface KubeTarget {
  context: string;
  /** Without a trailing slash. */
  server: string;
  tls: { ca?: Pem; cert?: Pem; key?: Pem; insecure: boolean; serverName?: string };
  proxyUrl?: string;
  auth: KubeUserAuth;
  /** The cluster as an exec plugin with `provideClusterInfo` is told of it. */
  clusterInfo: Record<string, unknown>;
}

type Obj = Record<string, unknown>;

interface Named {
  value: Obj;
  /** Directory of the file that named it: relative paths in it are relative to that. */
  dir: string;
}

/** One or more kubeconfig files, merged. */
export interface KubeconfigDoc {
  clusters: Map<string, Named>;
  users: Map<string, Named>;
  contexts: Map<string, Named>;
  currentContext: string | undefined;
}

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

function bad(source: string, what: string): Error {
  return invalidInput(`kubeconfig ${source}: ${what}`, 'kubeconfig');
}

function namedList(doc: Obj, key: string, inner: string, source: string, dir: string): Map<string, Named> {
  const out = new Map<string, Named>();
  const list = doc[key];
  if (list === undefined || list === null) return out;
  if (!Array.isArray(list)) throw bad(source, `${key} must be a list`);
  list.forEach((item, i) => {
    const name = isObj(item) ? str(item.name) : undefined;
    if (!name) throw bad(source, `${key}[${i}].name is missing`);
    const value = (item as Obj)[inner];
    if (value !== undefined && value !== null && !isObj(value))
      throw bad(source, `${key}[${i}].${inner} must be a mapping`);
    if (!out.has(name)) out.set(name, { value: (value as Obj | undefined) ?? {}, dir });
  });
  return out;
}

/** Parse one kubeconfig file's text. `path` names it in errors and anchors relative paths. */
export function parseKubeconfig(text: string, path: string): KubeconfigDoc {
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (err) {
    throw bad(path, `not YAML: ${(err as Error).message.split('\n')[0]}`);
  }
  if (doc === null || doc === undefined) doc = {};
  if (!isObj(doc)) throw bad(path, 'not a mapping');
  const dir = dirname(resolve(path));
  return {
    clusters: namedList(doc, 'clusters', 'cluster', path, dir),
    users: namedList(doc, 'users', 'user', path, dir),
    contexts: namedList(doc, 'contexts', 'context', path, dir),
    currentContext: str(doc['current-context']),
  };
}

/** kubectl's merge of a KUBECONFIG list: the first to set a name (or current-context) wins. */
export function mergeKubeconfigs(docs: KubeconfigDoc[]): KubeconfigDoc {
  const out: KubeconfigDoc = {
    clusters: new Map(),
    users: new Map(),
    contexts: new Map(),
    currentContext: undefined,
  };
  for (const d of docs) {
    for (const k of ['clusters', 'users', 'contexts'] as const)
      for (const [name, v] of d[k]) if (!out[k].has(name)) out[k].set(name, v);
    out.currentContext ??= d.currentContext;
  }
  return out;
}

/** Read the file(s) of `spec` (one path, or a `:`-separated list as in KUBECONFIG). */
export function readKubeconfigs(
  spec: string,
  read: (path: string) => string = (p) => readFileSync(p, 'utf8'),
): KubeconfigDoc {
  const paths = spec.split(delimiter).filter((p) => p !== '');
  if (paths.length === 0) throw invalidInput('kubeconfig: no file named', 'kubeconfig');
  const docs: KubeconfigDoc[] = [];
  for (const p of paths) {
    let text: string;
    try {
      text = read(p);
    } catch (err) {
      // kubectl skips missing files of a list, but not a file named alone.
      if (paths.length > 1 && (err as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw invalidInput(`kubeconfig ${p}: ${(err as Error).message}`, 'kubeconfig');
    }
    docs.push(parseKubeconfig(text, p));
  }
  return mergeKubeconfigs(docs);
}

const abs = (dir: string, p: string) => (isAbsolute(p) ? p : resolve(dir, p));

function pem(n: Named, dataKey: string, fileKey: string): Pem | undefined {
  const data = str(n.value[dataKey]);
  if (data) return { data: Buffer.from(data, 'base64').toString('utf8') };
  const file = str(n.value[fileKey]);
  return file ? { file: abs(n.dir, file) } : undefined;
}

const EXEC_VERSIONS = ['client.authentication.k8s.io/v1', 'client.authentication.k8s.io/v1beta1'];

function execConfig(user: Named, where: string): ExecConfig {
  const e = user.value.exec as Obj;
  const apiVersion = str(e.apiVersion);
  if (!apiVersion || !EXEC_VERSIONS.includes(apiVersion))
    throw bad(
      where,
      `exec.apiVersion must be one of ${EXEC_VERSIONS.join(', ')} (got ${apiVersion ?? 'none'})`,
    );
  const command = str(e.command);
  if (!command) throw bad(where, 'exec.command is missing');
  const args = e.args ?? [];
  if (!Array.isArray(args) || !args.every((a) => typeof a === 'string'))
    throw bad(where, 'exec.args must be a list of strings');
  const env = e.env ?? [];
  if (!Array.isArray(env) || !env.every((v) => isObj(v) && str(v.name) && typeof v.value === 'string'))
    throw bad(where, 'exec.env must be a list of {name, value}');
  return {
    apiVersion: apiVersion as ExecConfig['apiVersion'],
    // As client-go: a relative command with a directory part is relative to the kubeconfig.
    command: command.includes('/') ? abs(user.dir, command) : command,
    args: args as string[],
    env: env as ExecConfig['env'],
    provideClusterInfo: e.provideClusterInfo === true,
    interactiveMode: str(e.interactiveMode),
    installHint: str(e.installHint),
  };
}

function userAuth(user: Named | undefined, where: string): KubeUserAuth {
  if (!user) return {};
  const u = user.value;
  if (isObj(u['auth-provider'])) {
    const name = str(u['auth-provider'].name) ?? 'unnamed';
    throw bad(
      where,
      `auth-provider ${name} is not supported (kubectl dropped it in 1.26): use an exec credential plugin`,
    );
  }
  const auth: KubeUserAuth = {};
  const token = str(u.token);
  if (token) auth.token = token.trim();
  const tokenFile = str(u.tokenFile) ?? str(u['token-file']);
  if (tokenFile) auth.tokenFile = abs(user.dir, tokenFile);
  const username = str(u.username);
  if (username) {
    auth.username = username;
    auth.password = typeof u.password === 'string' ? u.password : '';
  }
  if (isObj(u.exec)) auth.exec = execConfig(user, where);
  const as = str(u.as);
  if (as) auth.impersonate = as;
  const groups = u['as-groups'];
  if (Array.isArray(groups) && groups.length > 0) auth.impersonateGroups = groups.map(String);
  return auth;
}

function serverOf(cluster: Named, where: string): string {
  const server = str(cluster.value.server);
  if (!server) throw bad(where, 'cluster.server is missing');
  let url: URL;
  try {
    url = new URL(server);
  } catch {
    throw bad(where, `cluster.server is not a URL: ${server}`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:')
    throw bad(where, `cluster.server must be http(s): ${server}`);
  return server.replace(/\/+$/, '');
}

function proxyOf(cluster: Named, where: string): string | undefined {
  const proxy = str(cluster.value['proxy-url']);
  if (!proxy) return undefined;
  if (/^socks/i.test(proxy))
    throw bad(where, `proxy-url ${proxy}: socks proxies are not supported (use an http(s) proxy)`);
  if (!/^https?:\/\//i.test(proxy)) throw bad(where, `proxy-url must be an http(s) URL: ${proxy}`);
  return proxy;
}

/** The context `name` (default: current-context), resolved. Throws INVALID_INPUT naming what is missing. */
export function resolveTarget(doc: KubeconfigDoc, name?: string): KubeTarget {
  const contextName = name || doc.currentContext;
  if (!contextName) throw invalidInput('kubeconfig: no current-context (pass --context)', 'kubeconfig');
  const ctx = doc.contexts.get(contextName);
  if (!ctx) throw invalidInput(`kubeconfig: no context "${contextName}"`, 'kubeconfig');
  const where = `context "${contextName}"`;
  const clusterName = str(ctx.value.cluster);
  const cluster = clusterName ? doc.clusters.get(clusterName) : undefined;
  if (!cluster) throw bad(where, `no cluster "${clusterName ?? ''}"`);
  const userName = str(ctx.value.user);
  const user = userName ? doc.users.get(userName) : undefined;
  if (userName && !user) throw bad(where, `no user "${userName}"`);
  const server = serverOf(cluster, where);
  const serverName = str(cluster.value['tls-server-name']);
  const proxyUrl = proxyOf(cluster, where);
  const ca = pem(cluster, 'certificate-authority-data', 'certificate-authority');
  const cert = user && pem(user, 'client-certificate-data', 'client-certificate');
  const key = user && pem(user, 'client-key-data', 'client-key');
  if (Boolean(cert) !== Boolean(key)) throw bad(where, 'client-certificate and client-key go together');
  const insecure = cluster.value['insecure-skip-tls-verify'] === true;
  return {
    context: contextName,
    server,
    tls: {
      ...(ca && !insecure ? { ca } : {}),
      ...(cert && key ? { cert, key } : {}),
      insecure,
      ...(serverName ? { serverName } : {}),
    },
    ...(proxyUrl ? { proxyUrl } : {}),
    auth: userAuth(user, where),
    clusterInfo: {
      server,
      ...(ca && 'data' in ca
        ? { 'certificate-authority-data': Buffer.from(ca.data).toString('base64') }
        : {}),
      ...(insecure ? { 'insecure-skip-tls-verify': true } : {}),
      ...(serverName ? { 'tls-server-name': serverName } : {}),
      ...(proxyUrl ? { 'proxy-url': proxyUrl } : {}),
    },
  };
}

export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

/** client-go's in-cluster config: the service host/port from the environment, the service account's CA and token. */
export function inClusterTarget(env: NodeJS.ProcessEnv, dir = SERVICE_ACCOUNT_DIR): KubeTarget {
  const host = env.KUBERNETES_SERVICE_HOST;
  const port = env.KUBERNETES_SERVICE_PORT;
  if (!host || !port)
    throw invalidInput(
      'no kubeconfig: pass --kubeconfig, set KUBECONFIG, or run inside a cluster (KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT)',
      'kubeconfig',
    );
  const server = `https://${host.includes(':') ? `[${host}]` : host}:${port}`;
  return {
    context: 'in-cluster',
    server,
    tls: { ca: { file: `${dir}/ca.crt` }, insecure: false },
    auth: { tokenFile: `${dir}/token` },
    clusterInfo: { server },
  };
}
