/**
 * The kubelet API of the virtual node through the real apiserver: the serving certificate
 * comes from a self-approved kubelet-serving CSR (so the apiserver, which verifies kubelet
 * certificates against the cluster CA, trusts it), `kubectl logs` and `kubectl logs -f`
 * return the mock plugin's lines via the real interLink API, exec reaches the mock plugin,
 * profiles (debugEndpoints) are served to callers allowed nodes/proxy, and callers without
 * credentials or permissions are turned away.
 */
import { spawn } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { connect } from 'node:tls';
import type { V1Pod } from '@kubernetes/client-node';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { KUBELET_SERVING_SIGNER } from '../../../src/vk/kubelet/certs.ts';
import { eventually, freePort, kubectl, type Stack, startStack } from './k8s-harness.ts';

const suffix = Math.random().toString(36).slice(2, 7);
const nodeName = `vk-kubelet-${suffix}`;
const ns = `vk-kubelet-${suffix}`;

describe('kubelet API through the apiserver', () => {
  let stack: Stack;
  let port: number;
  let pod: V1Pod;

  beforeAll(async () => {
    port = await freePort();
    stack = await startStack({
      nodeName,
      kubelet: true,
      config: {
        kubeletHttp: { port, address: '127.0.0.1', csr: true, selfApprove: true },
        debugEndpoints: true,
      },
      // Lines every 300 ms for a minute: enough for a tail and a follow.
      mock: { startDelay: '0s', logLines: 200, logInterval: '300ms' },
    });
    await stack.admin.core.createNamespace({ body: { metadata: { name: ns } } });
    pod = await stack.admin.core.createNamespacedPod({
      namespace: ns,
      body: {
        metadata: { name: 'talker' },
        spec: {
          nodeName,
          tolerations: [{ key: 'virtual-node.interlink/no-schedule', operator: 'Exists' }],
          containers: [{ name: 'main', image: 'busybox' }],
        },
      },
    });
    // The pod controller (not part of this test) would submit it; do it through the real API.
    await stack.deps.interlink.create({ pod: JSON.parse(JSON.stringify(pod)) });
    await stack.pods.refresh();
  });

  afterAll(async () => {
    await stack?.admin.core.deleteNamespace({ name: ns }).catch(() => {});
    await stack?.close();
  });

  it('serves a certificate from a self-approved kubernetes.io/kubelet-serving CSR, signed by the cluster CA', async () => {
    const peer = await new Promise<X509Certificate>((resolve, reject) => {
      const s = connect({ host: '127.0.0.1', port, rejectUnauthorized: false }, () => {
        const raw = s.getPeerX509Certificate();
        s.end();
        raw ? resolve(raw) : reject(new Error('no certificate'));
      });
      s.on('error', reject);
    });
    const ca = new X509Certificate(await readFile(inject('caCertPath')));
    expect(peer.checkIssued(ca)).toBe(true);
    expect(peer.verify(ca.publicKey)).toBe(true);
    expect(peer.subject).toBe(`O=system:nodes\nCN=system:node:${nodeName}`);
    expect(peer.subjectAltName).toBe(`DNS:${nodeName}, IP Address:127.0.0.1`);
    const csrs = await stack.admin.certificates.listCertificateSigningRequest({
      labelSelector: `interlink.io/node=${nodeName}`,
    });
    expect(csrs.items).toHaveLength(1);
    expect(csrs.items[0]?.spec.signerName).toBe(KUBELET_SERVING_SIGNER);
    expect(csrs.items[0]?.status?.conditions).toEqual([
      expect.objectContaining({ type: 'Approved', status: 'True', reason: 'InterlinkSelfApproved' }),
    ]);
  });

  it('kubectl logs returns the mock plugin lines', async () => {
    const out = await eventually('three lines', async () => {
      const r = await kubectl(['logs', '-n', ns, 'talker', '-c', 'main']);
      if (r.code !== 0) throw new Error(r.stderr);
      return r.stdout.split('\n').length > 3 ? r : undefined;
    });
    expect(out.stdout).toMatch(/^main line 1\nmain line 2\nmain line 3\n/);
  });

  it('kubectl logs -f --tail=2 starts with the last two lines and keeps streaming new ones', async () => {
    const child = spawn(
      `${inject('k8sBinDir')}/kubectl`,
      ['--kubeconfig', inject('kubeconfig'), 'logs', '-f', '--tail=2', '-n', ns, 'talker'],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let out = '';
    let err = '';
    child.stdout.on('data', (c) => {
      out += c;
    });
    child.stderr.on('data', (c) => {
      err += c;
    });
    try {
      const lines = await eventually(
        'four lines from the follow',
        async () => {
          if (child.exitCode !== null) throw new Error(`kubectl exited ${child.exitCode}: ${err}`);
          const l = out.split('\n').filter(Boolean);
          return l.length >= 4 ? l : undefined;
        },
        30_000,
      );
      const numbers = lines.map((l) => Number(/^main line (\d+)$/.exec(l)?.[1]));
      expect(numbers.every((n) => Number.isInteger(n) && n > 0)).toBe(true);
      // The pod has written several lines by now (the previous test saw more than three):
      // without the tail the follow would start at line 1.
      expect(numbers[0]).toBeGreaterThan(1);
      // Consecutive: the tail of two, then the lines produced while following.
      expect(numbers.slice(1, 4)).toEqual([numbers[0]! + 1, numbers[0]! + 2, numbers[0]! + 3]);
      expect(child.exitCode).toBeNull();
    } finally {
      child.kill('SIGKILL');
    }
    // The apiserver's connection to the VK closed with kubectl: the mock's follower ends too.
    await eventually('the follower gone', async () => (await logFollowers(stack)) === 0, 30_000);
  });

  it('kubectl exec reaches the plugin (streams.k8s.test.ts covers exec in depth)', async () => {
    const r = await kubectl(['exec', '-n', ns, 'talker', '--', 'echo', 'through', 'the', 'chain']);
    expect(r).toMatchObject({ code: 0, stdout: 'through the chain\n' });
  });

  it('unknown container → an error naming it', async () => {
    const r = await kubectl(['get', '--raw', `/api/v1/namespaces/${ns}/pods/talker/log?container=ghost`]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('ghost');
  });

  it('/pods and /stats/summary for a cluster admin (client certificate, SubjectAccessReview allows)', async () => {
    // The apiserver's node proxy refuses loopback addresses ("address not allowed"), so call
    // the kubelet API directly with the admin kubeconfig's client certificate.
    const https: import('node:https').RequestOptions = {};
    await stack.admin.kubeConfig.applyToHTTPSOptions(https);
    const agent = new Agent({
      connect: {
        ca: await readFile(inject('caCertPath'), 'utf8'),
        servername: nodeName,
        cert: https.cert as string,
        key: https.key as string,
      },
    });
    try {
      const pods = await request(`https://127.0.0.1:${port}/pods`, { dispatcher: agent });
      expect(pods.statusCode).toBe(200);
      const list = (await pods.body.json()) as { kind: string; items: V1Pod[] };
      expect(list.kind).toBe('PodList');
      expect(list.items.map((p) => p.metadata?.name)).toContain('talker');
      const summary = await request(`https://127.0.0.1:${port}/stats/summary`, { dispatcher: agent });
      expect(summary.statusCode).toBe(200);
      const doc = (await summary.body.json()) as { node: { nodeName: string }; pods: unknown[] };
      expect(doc.node.nodeName).toBe(nodeName);
      expect(Array.isArray(doc.pods)).toBe(true);
    } finally {
      await agent.close();
    }
  });

  it('/debug/pprof: a CPU profile for a caller allowed nodes/proxy (real SubjectAccessReview); 403 without', async () => {
    const https: import('node:https').RequestOptions = {};
    await stack.admin.kubeConfig.applyToHTTPSOptions(https);
    const ca = await readFile(inject('caCertPath'), 'utf8');
    const admin = new Agent({
      connect: { ca, servername: nodeName, cert: https.cert as string, key: https.key as string },
    });
    const plain = new Agent({ connect: { ca, servername: nodeName } });
    try {
      const res = await request(`https://127.0.0.1:${port}/debug/pprof/profile?seconds=1`, {
        dispatcher: admin,
      });
      expect(res.statusCode).toBe(200);
      const profile = (await res.body.json()) as { nodes: Array<{ callFrame: { functionName: string } }> };
      expect(profile.nodes[0]!.callFrame.functionName).toBe('(root)');
      await eventually('the default ServiceAccount', () =>
        stack.admin.core.readNamespacedServiceAccount({ name: 'default', namespace: ns }),
      );
      const tr = await stack.admin.core.createNamespacedServiceAccountToken({
        name: 'default',
        namespace: ns,
        body: { spec: { expirationSeconds: 600 } },
      });
      const denied = await request(`https://127.0.0.1:${port}/debug/pprof/heap`, {
        dispatcher: plain,
        headers: { authorization: `Bearer ${tr.status?.token}` },
      });
      expect(denied.statusCode).toBe(403);
      expect(await denied.body.text()).toContain('subresource(s)=[proxy]');
    } finally {
      await admin.close();
      await plain.close();
    }
  });

  it('anonymous callers get 401 and a ServiceAccount without RBAC gets 403', async () => {
    const ca = await readFile(inject('caCertPath'), 'utf8');
    const agent = new Agent({ connect: { ca, servername: nodeName } });
    try {
      const anon = await request(`https://127.0.0.1:${port}/pods`, { dispatcher: agent });
      expect(anon.statusCode).toBe(401);
      await anon.body.text();
      await eventually('the default ServiceAccount', () =>
        stack.admin.core.readNamespacedServiceAccount({ name: 'default', namespace: ns }),
      );
      const tr = await stack.admin.core.createNamespacedServiceAccountToken({
        name: 'default',
        namespace: ns,
        body: { spec: { expirationSeconds: 600 } },
      });
      const res = await request(`https://127.0.0.1:${port}/stats/summary`, {
        dispatcher: agent,
        headers: { authorization: `Bearer ${tr.status?.token}` },
      });
      expect(res.statusCode).toBe(403);
      const text = await res.body.text();
      expect(text).toContain(`user=system:serviceaccount:${ns}:default`);
      expect(text).toContain('subresource(s)=[stats]');
    } finally {
      await agent.close();
    }
  });
});

/** Open log followers in the mock plugin, from its metrics. */
async function logFollowers(stack: Stack): Promise<number> {
  const text = await stack.mock.parts.registry.metrics();
  const m = /^interlink_plugin_log_streams (\d+)/m.exec(text);
  return Number(m?.[1] ?? 0);
}
