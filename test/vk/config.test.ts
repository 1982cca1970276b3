import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { codeOf } from '../../src/errors/index.ts';
import { interlinkEndpoint, loadVkConfig } from '../../src/vk/config.ts';

const dir = mkdtempSync(join(tmpdir(), 'vk-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const file = (name: string, text: string) => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};

// An interLink 0.6 VK config, keys as its docs and Helm chart write them.
const PREDECESSOR = `
InterlinkURL: "https://interlink.example.org"
InterlinkPort: "3443"
VerboseLogging: true
ErrorsOnlyLogging: false
ServiceAccount: "interlink-vk"
Namespace: interlink
VKTokenFile: /opt/interlink/token
KubernetesApiAddr: "192.0.2.10"
KubernetesApiPort: "6443"
PodIP: 10.10.0.5
HTTP:
  Insecure: true
  CaCert: /etc/ca.pem
KubeletHTTP:
  Insecure: false
  CertFile: /etc/kubelet.crt
  KeyFile: /etc/kubelet.key
Resources:
  CPU: "64"
  Memory: "256Gi"
  Pods: "500"
  Accelerators:
    - ResourceType: nvidia.com/gpu
      Model: a100
      Available: 4
NodeLabels:
  - "site=cnaf"
  - "queue=gpu=long"
NodeTaints:
  - Key: site
    Value: cnaf
    Effect: NoSchedule
`;

describe('loadVkConfig', () => {
  it('defaults without a file', () => {
    const c = loadVkConfig({ env: {} });
    expect(c).toMatchObject({
      nodeName: 'interlink-node',
      interlinkUrl: 'http://127.0.0.1',
      statusIntervalMs: 2_000,
      statusFirstLookMs: 250,
      pingIntervalMs: 10_000,
      workers: 20,
      kubeletHttp: { port: 10250, csr: false, selfApprove: false },
      resources: { cpu: '100', memory: '128Gi', pods: '1000', accelerators: [] },
      nodeLabels: {},
      nodeTaints: [],
    });
    expect(interlinkEndpoint(c)).toEqual({ kind: 'tcp', protocol: 'http', host: '127.0.0.1', port: 3000 });
  });

  it("reads the predecessor's CamelCase keys", () => {
    const c = loadVkConfig({ file: file('old.yaml', PREDECESSOR), env: {} });
    expect(c.interlinkUrl).toBe('https://interlink.example.org');
    expect(c.interlinkPort).toBe(3443);
    expect(c.vkTokenFile).toBe('/opt/interlink/token');
    expect(c.kubernetesServiceHost).toBe('192.0.2.10');
    expect(c.kubernetesServicePort).toBe(6443);
    expect(c.podIp).toBe('10.10.0.5');
    expect(c.http).toEqual({ insecure: true, caCert: '/etc/ca.pem' });
    expect(c.kubeletHttp).toMatchObject({
      insecure: false,
      certFile: '/etc/kubelet.crt',
      keyFile: '/etc/kubelet.key',
      port: 10250,
    });
    expect(c.resources).toEqual({
      cpu: '64',
      memory: '256Gi',
      pods: '500',
      accelerators: [{ resourceType: 'nvidia.com/gpu', model: 'a100', available: 4 }],
    });
    expect(c.nodeLabels).toEqual({ site: 'cnaf', queue: 'gpu=long' });
    expect(c.nodeTaints).toEqual([{ key: 'site', value: 'cnaf', effect: 'NoSchedule' }]);
    expect(interlinkEndpoint(c)).toEqual({
      kind: 'tcp',
      protocol: 'https',
      host: 'interlink.example.org',
      port: 3443,
    });
  });

  it('env over file, flags over env; VKCONFIGPATH names the file', () => {
    const f = file('mid.yaml', 'nodeName: from-file\ninterlinkUrl: http://file-host\nworkers: 3\n');
    const env = {
      VKCONFIGPATH: f,
      NODENAME: 'from-env',
      INTERLINKURL: 'unix:///run/il.sock',
      INTERLINKPORT: '9',
      POD_IP: '10.9.9.9',
    };
    const c = loadVkConfig({ env });
    expect(c.nodeName).toBe('from-env');
    expect(c.workers).toBe(3);
    expect(c.podIp).toBe('10.9.9.9');
    expect(interlinkEndpoint(c)).toEqual({ kind: 'unix', path: '/run/il.sock' });
    expect(loadVkConfig({ env, flags: { nodeName: 'from-flag', kubeconfig: '/k' } })).toMatchObject({
      nodeName: 'from-flag',
      kubeconfig: '/k',
    });
  });

  it('a port in the URL wins over the default 3000', () => {
    expect(interlinkEndpoint({ interlinkUrl: 'http://h:4321', interlinkPort: undefined })).toMatchObject({
      port: 4321,
    });
    expect(interlinkEndpoint({ interlinkUrl: 'h:4321', interlinkPort: undefined })).toMatchObject({
      host: 'h',
      port: 4321,
    });
  });

  it('nodeLabels as a mapping; camelCase keys of our own', () => {
    const c = loadVkConfig({
      file: file(
        'new.yaml',
        'nodeLabels: {a: b, n: 1}\nmissingResourceTimeoutMs: 500\nkubeletHttp: {csr: "true", selfApprove: yes}\n',
      ),
      env: {},
    });
    expect(c.nodeLabels).toEqual({ a: 'b', n: '1' });
    expect(c.missingResourceTimeoutMs).toBe(500);
    expect(c.kubeletHttp).toMatchObject({ csr: true, selfApprove: true });
  });

  it.each([
    ['nodeTaints: [{Key: k, Effect: Sometimes}]', /nodeTaints/],
    ['NodeLabels: ["novalue"]', /not key=value/],
    ['statusIntervalMs: 0', /statusIntervalMs/],
    ['interlinkUrl: "ftp://x"', /interlinkUrl/],
    ['nodeName: Not_Valid', /nodeName/],
    ['tls: {enabled: true}', /tls\.certFile/],
    ['kubeletHttp: {certFile: /x}', /go together/],
  ])('rejects %s naming the key', (yaml, re) => {
    let err: unknown;
    try {
      loadVkConfig({ file: file('bad.yaml', yaml), env: {} });
    } catch (e) {
      err = e;
    }
    expect(codeOf(err)).toBe('INVALID_INPUT');
    expect((err as Error).message).toMatch(re);
  });
});
