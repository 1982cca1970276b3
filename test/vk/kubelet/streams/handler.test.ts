import { describe, expect, it } from 'vitest';
import {
  errorStreamBytes,
  expectedStreams,
  kubeletExecQuery,
  negotiate,
  parseStreamPath,
} from '../../../../src/vk/kubelet/streams/handler.ts';
import { exitStatus, failureStatus, successStatus } from '../../../../src/wire/streams.ts';

describe('parseStreamPath', () => {
  it.each([
    ['/exec/ns/pod/ctr', { kind: 'exec', namespace: 'ns', pod: 'pod', container: 'ctr' }],
    ['/exec/ns/pod/uid-1/ctr', { kind: 'exec', namespace: 'ns', pod: 'pod', uid: 'uid-1', container: 'ctr' }],
    ['/attach/ns/pod/ctr', { kind: 'attach', namespace: 'ns', pod: 'pod', container: 'ctr' }],
    ['/portForward/ns/pod', { kind: 'portForward', namespace: 'ns', pod: 'pod' }],
    ['/portForward/ns/pod/uid', { kind: 'portForward', namespace: 'ns', pod: 'pod', uid: 'uid' }],
    ['/exec/ns/pod', undefined],
    ['/exec/a/b/c/d/e', undefined],
    ['/portForward/ns', undefined],
    ['/run/ns/pod/ctr', undefined],
    ['/containerLogs/ns/pod/ctr', undefined],
  ])('%s', (path, want) => {
    expect(parseStreamPath(path)).toEqual(want);
  });
});

describe('negotiate (httpstream.Handshake)', () => {
  const ours = ['v4.channel.k8s.io', 'v3.channel.k8s.io', 'v2.channel.k8s.io', 'channel.k8s.io'];
  it.each([
    [['v4.channel.k8s.io', 'v3.channel.k8s.io'], 'v4.channel.k8s.io'],
    ['v3.channel.k8s.io, v4.channel.k8s.io', 'v3.channel.k8s.io'],
    [['v5.channel.k8s.io', 'v2.channel.k8s.io'], 'v2.channel.k8s.io'],
    ['v9.channel.k8s.io', undefined],
    [undefined, undefined],
  ])('%j → %s', (header, want) => {
    expect(negotiate(header as string | string[] | undefined, ours)).toBe(want);
  });
});

describe('expectedStreams', () => {
  const all = { stdin: true, stdout: true, stderr: true, tty: false };
  it.each([
    ['v4.channel.k8s.io', all, ['error', 'stdin', 'stdout', 'stderr']],
    ['v4.channel.k8s.io', { ...all, tty: true }, ['error', 'stdin', 'stdout', 'resize']],
    ['v3.channel.k8s.io', { ...all, tty: true }, ['error', 'stdin', 'stdout', 'resize']],
    ['v2.channel.k8s.io', { ...all, tty: true }, ['error', 'stdin', 'stdout']],
    ['channel.k8s.io', { ...all, tty: true }, ['error', 'stdin', 'stdout', 'stderr']],
    ['v4.channel.k8s.io', { stdin: false, stdout: true, stderr: false, tty: false }, ['error', 'stdout']],
  ])('%s %j', (proto, q, want) => {
    expect(expectedStreams(proto, q)).toEqual(want);
  });
});

describe('errorStreamBytes', () => {
  it.each([
    [
      'v4.channel.k8s.io',
      successStatus(),
      '{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Success"}',
    ],
    ['v3.channel.k8s.io', successStatus(), ''],
    ['v3.channel.k8s.io', exitStatus(2), 'command terminated with non-zero exit code: 2'],
    ['v2.channel.k8s.io', failureStatus('pod gone', 'NotFound', 404), 'pod gone'],
  ])('%s', (proto, status, want) => {
    expect(errorStreamBytes(proto, status).toString()).toBe(want);
  });

  it('v4 non-zero exit carries the ExitCode cause kubectl reads', () => {
    expect(JSON.parse(errorStreamBytes('v4.channel.k8s.io', exitStatus(42)).toString())).toEqual({
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: 'command terminated with non-zero exit code: 42',
      reason: 'NonZeroExitCode',
      details: { causes: [{ reason: 'ExitCode', message: '42' }] },
    });
  });
});

describe('kubeletExecQuery', () => {
  it.each([
    [
      { input: '1', output: '1', error: '1', tty: '0' },
      { stdin: '1', stdout: '1', stderr: '1', tty: '0' },
    ],
    [
      { stdin: 'true', output: '1' },
      { stdin: 'true', stdout: '1' },
    ],
    [{ command: ['ls', '-l'] }, { command: ['ls', '-l'] }],
  ])('%j', (q, want) => {
    expect(kubeletExecQuery(q)).toEqual(want);
  });
});
