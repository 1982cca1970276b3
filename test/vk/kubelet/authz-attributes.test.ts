import { describe, expect, it } from 'vitest';
import { requestAttributes } from '../../../src/vk/kubelet/authz-attributes.ts';

describe('kubelet API request → SubjectAccessReview attributes', () => {
  const table: Array<[string, string, string, string[]]> = [
    ['GET', '/containerLogs/ns/p/c?follow=true', 'get', ['proxy']],
    ['GET', '/stats/summary', 'get', ['stats']],
    ['GET', '/stats', 'get', ['stats']],
    ['GET', '/statsfoo', 'get', ['proxy']],
    ['GET', '/metrics', 'get', ['metrics']],
    ['GET', '/metrics/resource', 'get', ['metrics']],
    ['GET', '/logs/kubelet.log', 'get', ['log']],
    ['GET', '/pods', 'get', ['pods', 'proxy']],
    ['GET', '/runningpods/', 'get', ['pods', 'proxy']],
    ['GET', '/healthz', 'get', ['healthz', 'proxy']],
    ['GET', '/configz', 'get', ['configz', 'proxy']],
    ['POST', '/exec/ns/p/c?command=sh', 'create', ['proxy']],
    ['GET', '/exec/ns/p/c?command=sh', 'get', ['proxy']],
    ['POST', '/attach/ns/p/c', 'create', ['proxy']],
    ['POST', '/portForward/ns/p', 'create', ['proxy']],
    ['POST', '/run/ns/p/c', 'create', ['proxy']],
    ['PUT', '/x', 'update', ['proxy']],
    ['PATCH', '/x', 'patch', ['proxy']],
    ['DELETE', '/x', 'delete', ['proxy']],
    ['HEAD', '/healthz', 'get', ['healthz', 'proxy']],
    ['POST', '/checkpoint/ns/p/c', 'create', ['checkpoint']],
  ];
  it.each(table)('%s %s → verb %s, subresources %j', (method, path, verb, subresources) => {
    expect(requestAttributes(method, path, 'vk-1')).toEqual({
      verb,
      resource: 'nodes',
      name: 'vk-1',
      subresources,
    });
  });
});
