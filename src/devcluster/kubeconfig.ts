/**
 * Kubeconfig files with the credentials embedded (not referenced by path), so a copy of
 * the file keeps working wherever it is read from.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { stringify } from 'yaml';

export interface KubeconfigInput {
  server: string;
  caPem: string;
  certPem: string;
  keyPem: string;
  user: string;
  cluster?: string;
}

/** Pure: the YAML text of a one-context kubeconfig. */
export function renderKubeconfig(input: KubeconfigInput): string {
  const cluster = input.cluster ?? 'devcluster';
  const b64 = (s: string) => Buffer.from(s).toString('base64');
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [
      { name: cluster, cluster: { server: input.server, 'certificate-authority-data': b64(input.caPem) } },
    ],
    users: [
      {
        name: input.user,
        user: { 'client-certificate-data': b64(input.certPem), 'client-key-data': b64(input.keyPem) },
      },
    ],
    contexts: [{ name: `${input.user}@${cluster}`, context: { cluster, user: input.user } }],
    'current-context': `${input.user}@${cluster}`,
    preferences: {},
  });
}

/** Write a kubeconfig (mode 0600: it holds a private key) for a cert/key pair signed by the CA at `caPath`. */
export async function writeKubeconfig(
  path: string,
  opts: { server: string; caPath: string; certPath: string; keyPath: string; user: string },
): Promise<string> {
  const [caPem, certPem, keyPem] = await Promise.all([
    readFile(opts.caPath, 'utf8'),
    readFile(opts.certPath, 'utf8'),
    readFile(opts.keyPath, 'utf8'),
  ]);
  await writeFile(path, renderKubeconfig({ server: opts.server, caPem, certPem, keyPem, user: opts.user }), {
    mode: 0o600,
  });
  return path;
}
