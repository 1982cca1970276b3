/**
 * The pure parts of `interlink up` and the CLI entry: the banner, the cluster CA of a
 * kubeconfig, and what a repeated SIGINT means.
 */
import { describe, expect, it } from 'vitest';
import { DUPLICATE_SIGNAL_MS, signalAction } from '../../src/cli/main.ts';
import { clusterBanner, clusterCaOf, EXAMPLE } from '../../src/cli/up-cluster.ts';

const pem = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
const kubeconfig = (cluster: Record<string, string>, current = 'ctx-b') => `
apiVersion: v1
kind: Config
current-context: ${current}
contexts:
  - name: ctx-a
    context: {cluster: a, user: u}
  - name: ctx-b
    context: {cluster: b, user: u}
users:
  - name: u
    user: {token: t}
clusters:
  - name: a
    cluster: {server: "https://a", certificate-authority: /etc/a.crt}
  - name: b
    cluster: ${JSON.stringify({ server: 'https://b', ...cluster })}
`;

describe('clusterCaOf', () => {
  it.each([
    {
      name: 'inline data of the current context',
      text: kubeconfig({ 'certificate-authority-data': Buffer.from(pem).toString('base64') }),
      expected: { pem },
    },
    {
      name: 'a relative file',
      text: kubeconfig({ 'certificate-authority': 'pki/ca.crt' }),
      expected: { file: '/kc/pki/ca.crt' },
    },
    {
      name: 'an absolute file',
      text: kubeconfig({ 'certificate-authority': '/x/ca.crt' }),
      expected: { file: '/x/ca.crt' },
    },
    { name: 'another context', text: kubeconfig({}, 'ctx-a'), expected: { file: '/etc/a.crt' } },
    { name: 'no CA (insecure or system roots)', text: kubeconfig({}), expected: {} },
    { name: 'an empty file', text: '', expected: {} },
  ])('$name', ({ text, expected }) => {
    expect(clusterCaOf(text, '/kc/config')).toEqual(expected);
  });
});

describe('clusterBanner', () => {
  const base = {
    upBanner: 'interLink API  http://127.0.0.1:3000\nstop           Ctrl-C',
    kubeconfig: '/tmp/k/admin.kubeconfig',
    kubectl: '/cache/bin/kubectl',
    nodeName: 'node-1',
    kubeletPort: 10250,
    plugin: 'docker',
    example: EXAMPLE,
  };

  it('own cluster: the real kubeconfig and kubectl paths, the example, and that stop deletes the pods', () => {
    const lines = clusterBanner({ ...base, ownCluster: true }).split('\n');
    expect(lines).toContain('export KUBECONFIG=/tmp/k/admin.kubeconfig');
    expect(lines).toContain('/cache/bin/kubectl get nodes');
    expect(lines).toContain(`/cache/bin/kubectl apply -f ${EXAMPLE}   # runs on plugin docker`);
    expect(lines).toContain('/cache/bin/kubectl logs busy-echo');
    expect(lines.filter((l) => l.startsWith('stop '))).toEqual([
      'stop           Ctrl-C (deletes the pods on node-1 in the backend, then the cluster)',
    ]);
    expect(EXAMPLE).toMatch(/\/examples\/busy-echo\.yaml$/);
  });

  it('an existing cluster: the pods stay and are adopted', () => {
    const text = clusterBanner({ ...base, kubectl: 'kubectl', ownCluster: false });
    expect(text).toContain('\nkubectl get nodes\n');
    expect(text).toMatch(
      /stop {11}Ctrl-C \(pods on node-1 keep running; the next `interlink up --kubeconfig` adopts them\)$/,
    );
  });
});

describe('signalAction', () => {
  it.each([
    { firstAt: undefined, now: 5, expected: 'stop' },
    { firstAt: 1_000, now: 1_000, expected: 'ignore' },
    { firstAt: 1_000, now: 1_000 + DUPLICATE_SIGNAL_MS - 1, expected: 'ignore' },
    { firstAt: 1_000, now: 1_000 + DUPLICATE_SIGNAL_MS, expected: 'exit' },
    { firstAt: 1_000, now: 60_000, expected: 'exit' },
  ] as const)('first at $firstAt, now $now: $expected', ({ firstAt, now, expected }) => {
    expect(signalAction(firstAt, now)).toBe(expected);
  });
});
