/**
 * A connection to the apiserver from a resolved kubeconfig (src/vk/kubeconfig.ts): one
 * pooled undici dispatcher (keep-alive, the cluster's TLS settings) and the credentials of
 * every request, which may change while the VK runs:
 *   - a token file (the in-cluster service account token rotates) is re-read once it is
 *     older than a minute, as client-go's cached token source does;
 *   - an exec plugin's credential is kept until its `expirationTimestamp` (or for good
 *     when it has none) and fetched again after a 401; a client certificate it returns
 *     replaces the dispatcher. Concurrent requests share one run of the plugin.
 *
 * `prepare` may be called concurrently; it never mutates its arguments.
 */
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { Agent, type Dispatcher, ProxyAgent } from 'undici';
import { runProcess } from '../core/command.ts';
import { invalidInput } from '../errors/index.ts';
import type { ExecConfig, KubeTarget, Pem } from './kubeconfig.ts';

const TOKEN_FILE_TTL_MS = 60_000;
const EXEC_TIMEOUT_MS = 60_000;

export interface ExecCredential {
  token?: string;
  /** Client certificate and key (PEM), both or neither. */
  cert?: string;
  key?: string;
  /** ms since the epoch; absent: valid until a 401. */
  expiresAt?: number;
}

/** Runs a credential plugin: the command's stdout, or a rejection with its stderr. */
export type ExecRunner = (cfg: ExecConfig, execInfo: string) => Promise<string>;

export interface KubeConnectionOptions {
  now?: () => number;
  readText?: (path: string) => Promise<string>;
  runExec?: ExecRunner;
}

export interface PreparedRequest {
  headers: Record<string, string>;
  dispatcher: Dispatcher;
}

function readPem(p: Pem, what: string): string {
  if ('data' in p) return p.data;
  try {
    return readFileSync(p.file, 'utf8');
  } catch (err) {
    throw invalidInput(`kubeconfig: cannot read ${what} ${p.file}: ${(err as Error).message}`, 'kubeconfig');
  }
}

/** Parse an ExecCredential the plugin printed. Pure. */
export function parseExecCredential(stdout: string, apiVersion: string): ExecCredential {
  let obj: { apiVersion?: string; kind?: string; status?: Record<string, unknown> };
  try {
    obj = JSON.parse(stdout);
  } catch {
    throw new Error('exec credential plugin printed no JSON');
  }
  if (obj?.kind !== 'ExecCredential' || obj.apiVersion !== apiVersion)
    throw new Error(
      `exec credential plugin answered ${obj?.apiVersion}/${obj?.kind}, not ${apiVersion}/ExecCredential`,
    );
  const s = obj.status ?? {};
  const token = typeof s.token === 'string' && s.token ? s.token : undefined;
  const cert =
    typeof s.clientCertificateData === 'string' && s.clientCertificateData
      ? s.clientCertificateData
      : undefined;
  const key = typeof s.clientKeyData === 'string' && s.clientKeyData ? s.clientKeyData : undefined;
  if (Boolean(cert) !== Boolean(key))
    throw new Error('exec credential plugin gave clientCertificateData without clientKeyData or the reverse');
  if (!token && !cert)
    throw new Error('exec credential plugin gave neither a token nor a client certificate');
  const exp = typeof s.expirationTimestamp === 'string' ? Date.parse(s.expirationTimestamp) : Number.NaN;
  return {
    ...(token ? { token } : {}),
    ...(cert && key ? { cert, key } : {}),
    ...(Number.isFinite(exp) ? { expiresAt: exp } : {}),
  };
}

/** The KUBERNETES_EXEC_INFO a plugin is given. Pure. */
export function execInfo(cfg: ExecConfig, clusterInfo: Record<string, unknown>): string {
  return JSON.stringify({
    apiVersion: cfg.apiVersion,
    kind: 'ExecCredential',
    spec: { interactive: false, ...(cfg.provideClusterInfo ? { cluster: clusterInfo } : {}) },
  });
}

/** The real runner: the command through the one process runner (never a shell), its env added to ours. */
export const spawnExec: ExecRunner = async (cfg, info) => {
  const env: NodeJS.ProcessEnv = { ...process.env, KUBERNETES_EXEC_INFO: info };
  for (const { name, value } of cfg.env) env[name] = value;
  let r: Awaited<ReturnType<typeof runProcess>>;
  try {
    r = await runProcess(cfg.command, cfg.args, {
      env,
      timeoutMs: EXEC_TIMEOUT_MS,
      spanName: 'exec credential',
    });
  } catch (e) {
    const hint = cfg.installHint ? ` (${cfg.installHint})` : '';
    throw new Error(`exec credential plugin ${cfg.command}: ${(e as Error).message}${hint}`);
  }
  if (r.code === 0) return r.stdout;
  throw new Error(
    `exec credential plugin ${cfg.command} exited ${r.code ?? r.signal}: ${r.stderr.trim().slice(0, 500)}`,
  );
};

export class KubeConnection {
  readonly server: string;
  readonly context: string;
  readonly #target: KubeTarget;
  readonly #now: () => number;
  readonly #readText: (path: string) => Promise<string>;
  readonly #runExec: ExecRunner;
  readonly #tls: { ca?: string; cert?: string; key?: string };
  #dispatcher: Dispatcher | undefined;
  /** The exec certificate the dispatcher was built with. */
  #dispatcherCert: string | undefined;
  #token: { value: string; at: number } | undefined;
  #exec: ExecCredential | undefined;
  #execRun: Promise<ExecCredential> | undefined;

  constructor(target: KubeTarget, opts: KubeConnectionOptions = {}) {
    this.#target = target;
    this.server = target.server;
    this.context = target.context;
    this.#now = opts.now ?? Date.now;
    this.#readText = opts.readText ?? ((p) => readFile(p, 'utf8'));
    this.#runExec = opts.runExec ?? spawnExec;
    const { ca, cert, key } = target.tls;
    // Read now: a missing file fails the start, not the first call.
    this.#tls = {
      ...(ca ? { ca: readPem(ca, 'certificate-authority') } : {}),
      ...(cert ? { cert: readPem(cert, 'client-certificate') } : {}),
      ...(key ? { key: readPem(key, 'client-key') } : {}),
    };
    if (target.auth.exec && target.auth.exec.interactiveMode === 'Always')
      throw invalidInput(
        'kubeconfig: exec plugin with interactiveMode Always cannot run in the VK',
        'kubeconfig',
      );
  }

  /** Headers (credentials, impersonation) and the dispatcher for one request (`method`, `url`: for subclasses that count). */
  async prepare(_method: string, _url: URL): Promise<PreparedRequest> {
    const { auth } = this.#target;
    const headers: Record<string, string> = {};
    let execCert: ExecCredential | undefined;
    if (auth.exec) {
      const cred = await this.#execCredential(auth.exec);
      if (cred.token) headers.authorization = `Bearer ${cred.token}`;
      if (cred.cert) execCert = cred;
    } else if (auth.tokenFile) {
      headers.authorization = `Bearer ${await this.#tokenFromFile(auth.tokenFile)}`;
    } else if (auth.token) {
      headers.authorization = `Bearer ${auth.token}`;
    } else if (auth.username !== undefined) {
      headers.authorization = `Basic ${Buffer.from(`${auth.username}:${auth.password ?? ''}`).toString('base64')}`;
    }
    if (auth.impersonate) headers['impersonate-user'] = auth.impersonate;
    if (auth.impersonateGroups?.length) headers['impersonate-group'] = auth.impersonateGroups.join(',');
    return { headers, dispatcher: this.#dispatcherFor(execCert) };
  }

  /** The apiserver answered 401: drop cached credentials so the next request fetches fresh ones. */
  unauthorized(): void {
    this.#exec = undefined;
    this.#token = undefined;
  }

  async close(): Promise<void> {
    const d = this.#dispatcher;
    this.#dispatcher = undefined;
    await d?.close().catch(() => {});
  }

  async #tokenFromFile(path: string): Promise<string> {
    const now = this.#now();
    if (this.#token && now - this.#token.at < TOKEN_FILE_TTL_MS) return this.#token.value;
    try {
      const value = (await this.#readText(path)).trim();
      this.#token = { value, at: now };
      return value;
    } catch (err) {
      // A rotation in progress: the last token is still the best guess.
      if (this.#token) return this.#token.value;
      throw invalidInput(
        `kubeconfig: cannot read token file ${path}: ${(err as Error).message}`,
        'kubeconfig',
      );
    }
  }

  async #execCredential(cfg: ExecConfig): Promise<ExecCredential> {
    const cached = this.#exec;
    if (cached && (cached.expiresAt === undefined || cached.expiresAt > this.#now())) return cached;
    this.#execRun ??= this.#runExec(cfg, execInfo(cfg, this.#target.clusterInfo))
      .then((out) => {
        const cred = parseExecCredential(out, cfg.apiVersion);
        this.#exec = cred;
        return cred;
      })
      .finally(() => {
        this.#execRun = undefined;
      });
    return this.#execRun;
  }

  #dispatcherFor(exec: ExecCredential | undefined): Dispatcher {
    if (this.#dispatcher && this.#dispatcherCert === exec?.cert) return this.#dispatcher;
    const old = this.#dispatcher;
    if (old) void old.close().catch(() => {});
    const { insecure, serverName } = this.#target.tls;
    const tls = {
      ...this.#tls,
      ...(exec?.cert ? { cert: exec.cert, key: exec.key } : {}),
      ...(insecure ? { rejectUnauthorized: false } : {}),
      ...(serverName ? { servername: serverName } : {}),
    };
    // 30 s keep-alive probes, as client-go (a cloud load balancer drops idle connections at 60 s).
    const connect = { ...tls, keepAlive: true, keepAliveInitialDelay: 30_000 };
    const proxy = this.#target.proxyUrl;
    this.#dispatcher = proxy ? new ProxyAgent({ uri: proxy, requestTls: tls }) : new Agent({ connect });
    this.#dispatcherCert = exec?.cert;
    return this.#dispatcher;
  }
}
