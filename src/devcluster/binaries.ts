/**
 * Where the control-plane binaries live, and building them when they are missing
 * (scripts/k8s/build.sh: minutes on 2 cores, once per machine).
 */
import { spawn } from 'node:child_process';
import { accessSync, constants, existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

/**
 * Kubernetes v1.37.2: the newest minor whose go.mod (go 1.26.0) the machine's go1.26.8 can
 * build. Keep in step with K8S_VERSION in scripts/k8s/build.sh.
 */
export const K8S_VERSION = '1.37.2';
export const BINARIES = [
  'etcd',
  'kube-apiserver',
  'kube-controller-manager',
  'kube-scheduler',
  'kubectl',
] as const;

export function cacheRoot(env: NodeJS.ProcessEnv = process.env): string {
  return env.INTERLINK_CACHE ?? join(env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'interlink');
}

/** INTERLINK_K8S_BIN_DIR, else the build script's cache directory. */
export function defaultBinDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.INTERLINK_K8S_BIN_DIR ?? join(cacheRoot(env), `k8s-v${K8S_VERSION}`, 'bin');
}

export function missingBinaries(binDir: string): string[] {
  return BINARIES.filter((b) => {
    try {
      accessSync(join(binDir, b), constants.X_OK);
      return false;
    } catch {
      return true;
    }
  });
}

export const buildScript = fileURLToPath(new URL('../../scripts/k8s/build.sh', import.meta.url));

/**
 * Resolve to a directory holding all of BINARIES, building them with build.sh when the
 * default cache lacks one (progress lines go to `log`). Blocks for minutes on a cold cache;
 * concurrent callers are serialised by the script's lock. Throws when a custom `binDir`
 * is incomplete (we only build into the cache).
 */
export async function ensureBinaries(
  opts: { binDir?: string; log?: (line: string) => void } = {},
): Promise<string> {
  const binDir = opts.binDir ?? defaultBinDir();
  const missing = missingBinaries(binDir);
  if (missing.length === 0) return binDir;
  if (binDir !== join(cacheRoot(), `k8s-v${K8S_VERSION}`, 'bin')) {
    throw new Error(`control-plane binaries missing in ${binDir}: ${missing.join(', ')}`);
  }
  if (!existsSync(buildScript))
    throw new Error(`missing ${missing.join(', ')} and no build script at ${buildScript}`);
  const log = opts.log ?? ((l: string) => process.stderr.write(`${l}\n`));
  log(`[devcluster] building the control plane (${missing.join(', ')} missing); this takes minutes`);
  const child = spawn('bash', [buildScript], {
    env: { ...process.env, K8S_VERSION, INTERLINK_CACHE: cacheRoot() },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const tail: string[] = [];
  createInterface({ input: child.stderr! }).on('line', (l) => {
    tail.push(l);
    if (tail.length > 40) tail.shift();
    // go's per-module download chatter is noise; the script's own lines are the progress.
    if (!l.startsWith('go: downloading')) log(l);
  });
  child.stdout!.resume();
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (c) => resolve(c));
  });
  if (code !== 0) throw new Error(`${buildScript} exited with ${code}:\n${tail.join('\n')}`);
  const still = missingBinaries(binDir);
  if (still.length > 0)
    throw new Error(`${buildScript} succeeded but ${still.join(', ')} missing in ${binDir}`);
  return binDir;
}
