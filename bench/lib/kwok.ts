/**
 * The reference baseline of `npm run bench -- --baseline kwok`: KWOK (sigs.k8s.io/kwok, a
 * status-only fake kubelet) managing one fake node of the same control plane, as a child
 * process like the chain's. Its pod stages make a pod Running at once and Succeeded after the
 * run time, as the mock plugin does, and drop a deleted pod at once; the benchmark creates
 * the Node object (KWOK's default node stages mark it Ready and keep its heartbeat).
 *
 * The binary comes from scripts/kwok/build.sh (built from the Go module proxy, cached in
 * ~/.cache/interlink/kwok-v<version>/; the first call builds it, a few minutes).
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { CoreV1Api, V1Node } from '@kubernetes/client-node';
import { stringify } from 'yaml';
import { freePorts } from '../../src/core/free-ports.ts';
import { type ManagedProcess, spawnGroup, stopGroups } from '../../src/devcluster/process.ts';
import { VIRTUAL_NODE_TAINT } from './workload.ts';

export const KWOK_VERSION = '0.7.0';
const BUILD = join(import.meta.dirname, '..', '..', 'scripts', 'kwok', 'build.sh');

/** What the benchmark drives: the interlink chain or KWOK, as processes it measures. */
export interface Agent {
  /** Processes to sample, by the report's names. */
  pids: Record<string, number>;
  /** The first child that exited on its own, with the tail of its log; undefined while all run. */
  deadChild(): string | undefined;
  stop(): Promise<void>;
}

/** The kwok binary, built (or waited for) by scripts/kwok/build.sh; its path. */
export async function kwokBinary(log: (line: string) => void): Promise<string> {
  log(`kwok v${KWOK_VERSION}: scripts/kwok/build.sh (instant when cached)`);
  const { stdout } = await promisify(execFile)('bash', [BUILD], {
    env: { ...process.env, KWOK_VERSION },
    maxBuffer: 16 * 1024 * 1024,
  });
  const bin = stdout.trim().split('\n').at(-1);
  if (!bin) throw new Error('scripts/kwok/build.sh printed no binary path');
  return bin;
}

const READY_TEMPLATE = `{{ $now := Now }}
conditions:
- lastTransitionTime: {{ $now | Quote }}
  status: "True"
  type: Initialized
- lastTransitionTime: {{ $now | Quote }}
  status: "True"
  type: Ready
- lastTransitionTime: {{ $now | Quote }}
  status: "True"
  type: ContainersReady
containerStatuses:
{{ range .spec.containers }}
- image: {{ .image | Quote }}
  name: {{ .name | Quote }}
  ready: true
  restartCount: 0
  state:
    running:
      startedAt: {{ $now | Quote }}
{{ end }}
hostIP: {{ NodeIPWith .spec.nodeName | Quote }}
podIP: {{ PodIPWith .spec.nodeName ( or .spec.hostNetwork false ) ( or .metadata.uid "" ) ( or .metadata.name "" ) ( or .metadata.namespace "" ) | Quote }}
phase: Running
startTime: {{ $now | Quote }}
`;

const COMPLETE_TEMPLATE = `{{ $now := Now }}
{{ $root := . }}
containerStatuses:
{{ range $index, $item := .spec.containers }}
{{ $origin := index $root.status.containerStatuses $index }}
- image: {{ $item.image | Quote }}
  name: {{ $item.name | Quote }}
  ready: false
  restartCount: 0
  started: false
  state:
    terminated:
      exitCode: 0
      finishedAt: {{ $now | Quote }}
      reason: Completed
      startedAt: {{ $origin.state.running.startedAt | Quote }}
{{ end }}
phase: Succeeded
`;

/**
 * KWOK's pod stages for the benchmark (pure): its "fast" stages (kustomize/stage/pod/fast of
 * v0.7.0), except that every pod completes, `runTimeMs` after it became Running (the fast
 * stage completes only Job pods, at once). Multi-document YAML for `kwok --config`.
 */
export function kwokStages(runTimeMs: number): string {
  const pod = { apiGroup: 'v1', kind: 'Pod' };
  const notDeleted = { key: '.metadata.deletionTimestamp', operator: 'DoesNotExist' };
  const stage = (name: string, spec: Record<string, unknown>) =>
    stringify({ apiVersion: 'kwok.x-k8s.io/v1alpha1', kind: 'Stage', metadata: { name }, spec });
  return [
    stage('pod-ready', {
      resourceRef: pod,
      selector: { matchExpressions: [notDeleted, { key: '.status.podIP', operator: 'DoesNotExist' }] },
      next: { statusTemplate: READY_TEMPLATE },
    }),
    stage('pod-complete', {
      resourceRef: pod,
      selector: {
        matchExpressions: [notDeleted, { key: '.status.phase', operator: 'In', values: ['Running'] }],
      },
      delay: { durationMilliseconds: runTimeMs },
      next: { statusTemplate: COMPLETE_TEMPLATE },
    }),
    stage('pod-delete', {
      resourceRef: pod,
      selector: { matchExpressions: [{ key: '.metadata.deletionTimestamp', operator: 'Exists' }] },
      next: { finalizers: { empty: true }, delete: true },
    }),
  ].join('---\n');
}

/** The fake node (pure): schedulable for the benchmark's pods exactly as the virtual node is. */
export function kwokNode(name: string): V1Node {
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name,
      labels: { 'kubernetes.io/hostname': name, 'kubernetes.io/os': 'linux', type: 'kwok' },
      annotations: { 'kwok.x-k8s.io/node': 'fake' },
    },
    spec: { taints: [{ key: VIRTUAL_NODE_TAINT, effect: 'NoSchedule' }] },
  };
}

export interface KwokOptions {
  /** Private directory (config, log); must exist. */
  dir: string;
  kubeconfig: string;
  nodeName: string;
  runTimeMs: number;
  core: CoreV1Api;
  log: (line: string) => void;
}

/** Create the node and start kwok managing it (only it). The caller waits for the node to be Ready. */
export async function startKwok(opts: KwokOptions): Promise<Agent> {
  const bin = await kwokBinary(opts.log);
  const config = join(opts.dir, 'kwok.yaml');
  await writeFile(config, kwokStages(opts.runTimeMs));
  await opts.core.createNode({ body: kwokNode(opts.nodeName) });
  const [port] = await freePorts(1);
  const logPath = join(opts.dir, 'kwok.log');
  const p: ManagedProcess = spawnGroup({
    name: 'kwok',
    bin,
    args: [
      `--config=${config}`,
      `--kubeconfig=${opts.kubeconfig}`,
      `--manage-single-node=${opts.nodeName}`,
      `--server-address=127.0.0.1:${port}`,
      '--cidr=10.128.0.1/16',
      '--node-ip=127.0.0.1',
    ],
    logPath,
  });
  opts.log(`kwok v${KWOK_VERSION} up, managing node "${opts.nodeName}" (log ${logPath})`);
  let stopping: Promise<void> | undefined;
  return {
    pids: { kwok: p.pid },
    deadChild: () => {
      const e = p.exit();
      if (!e) return undefined;
      let tail = '(no log)';
      try {
        tail = readFileSync(logPath, 'utf8').trimEnd().split('\n').slice(-20).join('\n');
      } catch {}
      return `kwok exited (code ${e.code}, signal ${e.signal}); its log ends with:\n${tail}`;
    },
    stop: () => {
      stopping ??= stopGroups([p.pid], 15_000);
      return stopping;
    },
  };
}
