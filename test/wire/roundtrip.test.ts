/**
 * Upstream-shaped messages (interLink 0.6 Go VK/API/plugins and Python SDK plugins) pass
 * our schemas unmodified — unknown fields of Kubernetes objects kept — and bad values are
 * rejected with the path of the field at fault.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { silentLogger } from '../../src/core/logger.ts';
import { buildPluginApp } from '../../src/plugins/sdk/server.ts';
import { definePlugin } from '../../src/plugins/sdk/types.ts';
import {
  CreateStruct,
  LogStruct,
  PingResponse,
  PodCreateRequests,
  PodList,
  PodStatusList,
  RetrievedPodDataBody,
} from '../../src/wire/interlink.ts';
import { Pod } from '../../src/wire/k8s.ts';

// biome-ignore lint/suspicious/noExplicitAny: fixtures are arbitrary JSON
type Any = any;
const fixture = (name: string): Any =>
  JSON.parse(readFileSync(join(import.meta.dirname, 'fixtures', name), 'utf8'));

const cases: Array<[string, z.ZodType]> = [
  ['pod-create-requests.json', PodCreateRequests],
  ['retrieved-pod-data.json', RetrievedPodDataBody],
  ['retrieved-pod-data-array.json', RetrievedPodDataBody],
  ['create-struct.json', CreateStruct],
  ['delete-pod.json', Pod],
  ['status-request.json', PodList],
  ['pod-status-list-go.json', PodStatusList],
  ['pod-status-list-python.json', PodStatusList],
  ['log-struct.json', LogStruct],
  ['log-struct-follow.json', LogStruct],
  ['log-struct-limitbytes.json', LogStruct],
  ['ping-response.json', PingResponse],
];

describe('wire round trip', () => {
  it.each(cases)('%s parses to itself', (file, schema) => {
    // The one-element array form of RetrievedPodData is unwrapped to its element.
    const raw = file === 'retrieved-pod-data-array.json' ? fixture(file)[0] : fixture(file);
    const parsed = schema.safeParse(fixture(file));
    expect(parsed.error?.issues).toBeUndefined();
    expect(parsed.data).toStrictEqual(raw);
    // And survives a JSON round trip through the schema again.
    expect(schema.parse(JSON.parse(JSON.stringify(parsed.data)))).toStrictEqual(raw);
  });

  it('keeps fields we do not model, deep inside Kubernetes objects', () => {
    const parsed = PodCreateRequests.parse(fixture('pod-create-requests.json')) as Any;
    expect(parsed.pod.metadata.managedFields[0].fieldsV1).toEqual({ 'f:metadata': { 'f:generateName': {} } });
    expect(parsed.pod.spec.containers[0].env[1].value).toBe('it\'s "quoted" $HOME `cmd`\nsecond line');
    expect(parsed.pod.spec.containers[0].resources.limits['nvidia.com/gpu']).toBe('1');
    expect(parsed.pod.spec.volumes[3].projected.sources[0].serviceAccountToken.expirationSeconds).toBe(3607);
    expect(parsed.persistentvolumes).toBeNull();
    expect(parsed.configmaps[0].binaryData['weights.bin']).toBe('AAECAwQFBgc=');
    const status = PodStatusList.parse(fixture('pod-status-list-go.json')) as Any;
    expect(status[0].containers[0].allocatedResources).toEqual({ cpu: '2', memory: '8Gi' });
  });

  it('types the fields the VK reads, so its pod type (KPod) is this one', () => {
    const { pod } = PodCreateRequests.parse(fixture('pod-create-requests.json'));
    const spec = pod.spec!;
    expect([spec.nodeName, spec.restartPolicy, spec.activeDeadlineSeconds]).toEqual([
      'interlink-slurm',
      'Never',
      7200,
    ]);
    expect(pod.metadata.ownerReferences?.[0]?.kind).toBe('ReplicaSet');
    const env = spec.containers[0]!.env!;
    expect(env[2]!.valueFrom?.configMapKeyRef).toEqual({ name: 'train-config', key: 'bucket' });
    expect(env[3]!.valueFrom?.fieldRef?.fieldPath).toBe('status.podIP');
    expect(spec.volumes?.[1]?.secret?.secretName).toBe('s3-creds');
    expect(spec.volumes?.[3]?.projected?.sources?.[0]?.serviceAccountToken?.expirationSeconds).toBe(3607);
    expect(pod.status?.phase).toBe('Pending');
    expect(pod.status?.conditions?.[0]).toMatchObject({ type: 'PodScheduled', lastProbeTime: null });
  });

  it('requires inside a typed field only what the apiserver requires too (a reference names its object)', () => {
    const req = fixture('pod-create-requests.json');
    delete req.pod.spec.containers[0].env[2].valueFrom.configMapKeyRef.name;
    const parsed = PodCreateRequests.safeParse(req);
    expect(parsed.error?.issues.map((i) => i.path.join('.'))).toEqual([
      'pod.spec.containers.0.env.2.valueFrom.configMapKeyRef.name',
    ]);
  });

  it('carries fixtures unmodified through the plugin SDK over HTTP, both ways', async () => {
    const received: Any[] = [];
    const statuses = fixture('pod-status-list-go.json');
    const plugin = definePlugin({
      name: 'probe',
      async create(data) {
        received.push(data);
        return fixture('create-struct.json');
      },
      async delete(pod) {
        received.push(pod);
      },
      async status(pods) {
        received.push(pods);
        return statuses;
      },
      async logs(req) {
        received.push(req);
        return Readable.from(['x\n']);
      },
      async ping() {
        return fixture('ping-response.json');
      },
    });
    const { app } = buildPluginApp(plugin, { logger: silentLogger() });
    try {
      const create = await app.inject({
        method: 'POST',
        url: '/create',
        payload: fixture('retrieved-pod-data.json'),
      });
      expect(create.statusCode).toBe(200);
      expect(create.json()).toEqual(fixture('create-struct.json'));
      expect(received.pop()).toStrictEqual(fixture('retrieved-pod-data.json'));

      const array = await app.inject({
        method: 'POST',
        url: '/create',
        payload: fixture('retrieved-pod-data-array.json'),
      });
      expect(array.statusCode).toBe(200);
      expect(received.pop()).toStrictEqual(fixture('retrieved-pod-data-array.json')[0]);

      const del = await app.inject({ method: 'DELETE', url: '/delete', payload: fixture('delete-pod.json') });
      expect(del.statusCode).toBe(200);
      expect(received.pop()).toStrictEqual(fixture('delete-pod.json'));

      const st = await app.inject({ method: 'GET', url: '/status', payload: fixture('status-request.json') });
      expect(st.statusCode).toBe(200);
      expect(received.pop()).toStrictEqual(fixture('status-request.json'));
      expect(st.json()).toStrictEqual(statuses); // the answer keeps unknown fields too

      const logs = await app.inject({
        method: 'GET',
        url: '/getLogs',
        payload: fixture('log-struct-follow.json'),
      });
      expect(logs.statusCode).toBe(200);
      expect(received.pop()).toStrictEqual(fixture('log-struct-follow.json'));

      const ping = await app.inject({ method: 'GET', url: '/ping' });
      expect(ping.json()).toStrictEqual(fixture('ping-response.json'));
    } finally {
      await app.close();
    }
  });
});

/** Apply `mutate` to a copy of the fixture. */
function bad(file: string, mutate: (x: Any) => void): Any {
  const x = fixture(file);
  mutate(x);
  return x;
}

describe('wire rejections name the field', () => {
  const table: Array<[string, z.ZodType, Any, Array<string | number>]> = [
    [
      'pod name with ../',
      PodCreateRequests,
      bad('pod-create-requests.json', (x) => {
        x.pod.metadata.name = '../etc';
      }),
      ['pod', 'metadata', 'name'],
    ],
    [
      'pod name with a quote',
      PodCreateRequests,
      bad('pod-create-requests.json', (x) => {
        x.pod.metadata.name = 'a"b';
      }),
      ['pod', 'metadata', 'name'],
    ],
    [
      'namespace with a newline',
      PodCreateRequests,
      bad('pod-create-requests.json', (x) => {
        x.pod.metadata.namespace = 'ml\nteam';
      }),
      ['pod', 'metadata', 'namespace'],
    ],
    [
      'missing uid',
      PodCreateRequests,
      bad('pod-create-requests.json', (x) => {
        delete x.pod.metadata.uid;
      }),
      ['pod', 'metadata', 'uid'],
    ],
    [
      'uid with a slash',
      Pod,
      bad('delete-pod.json', (x) => {
        x.metadata.uid = 'a/b';
      }),
      ['metadata', 'uid'],
    ],
    [
      'no containers',
      PodCreateRequests,
      bad('pod-create-requests.json', (x) => {
        x.pod.spec.containers = [];
      }),
      ['pod', 'spec', 'containers'],
    ],
    // The attacks of issue #12: pod-derived names that would become options or paths.
    [
      'volume name with ../',
      PodCreateRequests,
      bad('pod-create-requests.json', (x) => {
        x.pod.spec.volumes[0].name = '../../etc';
      }),
      ['pod', 'spec', 'volumes', 0, 'name'],
    ],
    [
      'volumeMount name with ../',
      PodCreateRequests,
      bad('pod-create-requests.json', (x) => {
        x.pod.spec.containers[0].volumeMounts[0].name = '../x';
      }),
      ['pod', 'spec', 'containers', 0, 'volumeMounts', 0, 'name'],
    ],
    [
      'env name posing as an option of env(1)',
      PodCreateRequests,
      bad('pod-create-requests.json', (x) => {
        x.pod.spec.containers[0].env[0].name = '--split-string=sh';
      }),
      ['pod', 'spec', 'containers', 0, 'env', 0, 'name'],
    ],
    [
      'env value with a NUL byte',
      PodCreateRequests,
      bad('pod-create-requests.json', (x) => {
        x.pod.spec.containers[0].env[0].value = 'a\0b';
      }),
      ['pod', 'spec', 'containers', 0, 'env', 0, 'value'],
    ],
    [
      'image posing as a docker option',
      PodCreateRequests,
      bad('pod-create-requests.json', (x) => {
        x.pod.spec.containers[0].image = '--volume=/:/host';
      }),
      ['pod', 'spec', 'containers', 0, 'image'],
    ],
    [
      'configMap item path with ..',
      PodCreateRequests,
      bad('pod-create-requests.json', (x) => {
        x.pod.spec.volumes[3].projected.sources[1].configMap.items[0].path = '../../x';
      }),
      ['pod', 'spec', 'volumes', 3, 'projected', 'sources', 1, 'configMap', 'items', 0, 'path'],
    ],
    [
      'ConfigMap key with a slash',
      PodCreateRequests,
      bad('pod-create-requests.json', (x) => {
        x.configmaps[0].data = { '../escape': 'x' };
      }),
      ['configmaps', 0, 'data', '../escape'],
    ],
    [
      'container name',
      PodCreateRequests,
      bad('pod-create-requests.json', (x) => {
        x.pod.spec.containers[0].name = 'Trainer_1';
      }),
      ['pod', 'spec', 'containers', 0, 'name'],
    ],
    [
      'init container name',
      PodCreateRequests,
      bad('pod-create-requests.json', (x) => {
        x.pod.spec.initContainers[0].name = '';
      }),
      ['pod', 'spec', 'initContainers', 0, 'name'],
    ],
    [
      'configmaps not a list',
      PodCreateRequests,
      bad('pod-create-requests.json', (x) => {
        x.configmaps = { a: 1 };
      }),
      ['configmaps'],
    ],
    [
      'configmap data not strings',
      PodCreateRequests,
      bad('pod-create-requests.json', (x) => {
        x.configmaps[0].data.bucket = 5;
      }),
      ['configmaps', 0, 'data', 'bucket'],
    ],
    [
      'secret name',
      PodCreateRequests,
      bad('pod-create-requests.json', (x) => {
        x.secrets[0].metadata.name = 'S3 creds';
      }),
      ['secrets', 0, 'metadata', 'name'],
    ],
    [
      'projected map name',
      PodCreateRequests,
      bad('pod-create-requests.json', (x) => {
        x.projectedvolumesmaps[0].metadata.name = 'x/y';
      }),
      ['projectedvolumesmaps', 0, 'metadata', 'name'],
    ],
    [
      'retrieved container name',
      RetrievedPodDataBody,
      bad('retrieved-pod-data.json', (x) => {
        x.container[1].name = '../x';
      }),
      ['container', 1, 'name'],
    ],
    [
      'emptyDirs not strings',
      RetrievedPodDataBody,
      bad('retrieved-pod-data.json', (x) => {
        x.container[0].emptyDirs = [1];
      }),
      ['container', 0, 'emptyDirs', 0],
    ],
    [
      'PodJID a number',
      CreateStruct,
      bad('create-struct.json', (x) => {
        x.PodJID = 184467;
      }),
      ['PodJID'],
    ],
    [
      'restartCount negative',
      PodStatusList,
      bad('pod-status-list-go.json', (x) => {
        x[1].containers[0].restartCount = -1;
      }),
      [1, 'containers', 0, 'restartCount'],
    ],
    [
      'exitCode a string',
      PodStatusList,
      bad('pod-status-list-go.json', (x) => {
        x[1].containers[0].state.terminated.exitCode = '137';
      }),
      [1, 'containers', 0, 'state', 'terminated', 'exitCode'],
    ],
    [
      'UID missing',
      PodStatusList,
      bad('pod-status-list-go.json', (x) => {
        delete x[2].UID;
      }),
      [2, 'UID'],
    ],
    [
      'Tail negative',
      LogStruct,
      bad('log-struct.json', (x) => {
        x.Opts.Tail = -1;
      }),
      ['Opts', 'Tail'],
    ],
    [
      'Bytes a string',
      LogStruct,
      bad('log-struct.json', (x) => {
        x.Opts.Bytes = '10';
      }),
      ['Opts', 'Bytes'],
    ],
    [
      'LimitBytes fractional',
      LogStruct,
      bad('log-struct-limitbytes.json', (x) => {
        x.Opts.LimitBytes = 1.5;
      }),
      ['Opts', 'LimitBytes'],
    ],
    [
      'Follow a string',
      LogStruct,
      bad('log-struct.json', (x) => {
        x.Opts.Follow = 'true';
      }),
      ['Opts', 'Follow'],
    ],
    [
      'SinceTime not a time',
      LogStruct,
      bad('log-struct.json', (x) => {
        x.Opts.SinceTime = 'yesterday';
      }),
      ['Opts', 'SinceTime'],
    ],
    [
      'ContainerName with a quote',
      LogStruct,
      bad('log-struct.json', (x) => {
        x.ContainerName = 'a"b';
      }),
      ['ContainerName'],
    ],
    [
      'PodUID with ../',
      LogStruct,
      bad('log-struct.json', (x) => {
        x.PodUID = '../../etc';
      }),
      ['PodUID'],
    ],
    [
      'accelerator count a boolean',
      PingResponse,
      bad('ping-response.json', (x) => {
        x.resources.accelerators[0].available = true;
      }),
      ['resources', 'accelerators', 0, 'available'],
    ],
    [
      'taint without effect',
      PingResponse,
      bad('ping-response.json', (x) => {
        delete x.taints[0].effect;
      }),
      ['taints', 0, 'effect'],
    ],
  ];

  it.each(table)('%s', (_name, schema, input, path) => {
    const r = schema.safeParse(input);
    expect(r.success).toBe(false);
    expect(r.error!.issues.map((i) => i.path)).toContainEqual(path);
  });

  it('rejects a RetrievedPodData array of two', () => {
    const one = fixture('retrieved-pod-data.json');
    expect(RetrievedPodDataBody.safeParse([one, one]).success).toBe(false);
  });

  it('answers 400 over HTTP with the dotted field path in the message and field', async () => {
    const plugin = definePlugin({
      name: 'probe',
      create: async () => fixture('create-struct.json'),
      delete: async () => {},
      status: async () => [],
      logs: async () => Readable.from([]),
    });
    const { app } = buildPluginApp(plugin, { logger: silentLogger() });
    try {
      const body = bad('retrieved-pod-data.json', (x) => {
        x.pod.spec.containers[0].name = 'Bad Name';
      });
      const res = await app.inject({ method: 'POST', url: '/create', payload: body });
      expect(res.statusCode).toBe(400);
      expect(res.json()).toMatchObject({
        code: 'INVALID_INPUT',
        message: expect.stringContaining('pod.spec.containers.0.name'),
      });
      const logs = await app.inject({
        method: 'GET',
        url: '/getLogs',
        payload: bad('log-struct.json', (x) => {
          x.Opts.Tail = 'all';
        }),
      });
      expect(logs.statusCode).toBe(400);
      expect(logs.json()).toMatchObject({ code: 'INVALID_INPUT', field: 'Opts.Tail' });
    } finally {
      await app.close();
    }
  });
});
