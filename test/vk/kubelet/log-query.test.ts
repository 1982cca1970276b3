import { describe, expect, it } from 'vitest';
import { codeOf } from '../../../src/errors/index.ts';
import { logOptsFromQuery, logStruct, type Query } from '../../../src/vk/kubelet/log-query.ts';
import { LogStruct } from '../../../src/wire/interlink.ts';

describe('kubelet /containerLogs query → LogStruct Opts', () => {
  const table: Array<[string, Query, object]> = [
    ['no options', {}, {}],
    ['tailLines', { tailLines: '2' }, { Tail: 2 }],
    ['tailLines=0 is kept (no lines)', { tailLines: '0' }, { Tail: 0 }],
    ['follow=true', { follow: 'true' }, { Follow: true }],
    ['follow=1 (Go ParseBool)', { follow: '1' }, { Follow: true }],
    ['follow=false is omitted', { follow: 'false' }, {}],
    ['limitBytes sets both wire names', { limitBytes: '1024' }, { Bytes: 1024, LimitBytes: 1024 }],
    ['previous', { previous: 'true' }, { Previous: true }],
    ['timestamps', { timestamps: 'True' }, { Timestamps: true }],
    ['sinceSeconds', { sinceSeconds: '60' }, { SinceSeconds: 60 }],
    [
      'sinceTime normalized to UTC',
      { sinceTime: '2026-01-02T03:04:05+02:00' },
      { SinceTime: '2026-01-02T01:04:05Z' },
    ],
    [
      'sinceTime keeps fractions',
      { sinceTime: '2026-01-02T03:04:05.250Z' },
      { SinceTime: '2026-01-02T03:04:05.250Z' },
    ],
    ['repeated parameter: last wins', { tailLines: ['5', '7'] }, { Tail: 7 }],
    [
      'kubectl logs -f --tail=2 --timestamps',
      { follow: 'true', tailLines: '2', timestamps: 'true' },
      { Follow: true, Tail: 2, Timestamps: true },
    ],
    ['unknown parameters ignored', { pretty: 'true', insecureSkipTLSVerifyBackend: 'true' }, {}],
  ];
  it.each(table)('%s', (_name, query, expected) => {
    const opts = logOptsFromQuery(query);
    expect(opts).toEqual(expected);
    // Whatever we produce must pass the wire schema the API validates with.
    const ls = logStruct({ namespace: 'ns', podName: 'p', podUid: 'u-1', container: 'c' }, opts);
    expect(LogStruct.parse(ls)).toEqual(ls);
  });

  const bad: Array<[string, Query, string]> = [
    ['negative tail', { tailLines: '-1' }, 'tailLines'],
    ['non-numeric tail', { tailLines: 'x' }, 'tailLines'],
    ['limitBytes 0', { limitBytes: '0' }, 'limitBytes'],
    ['sinceSeconds 0', { sinceSeconds: '0' }, 'sinceSeconds'],
    ['follow=yes', { follow: 'yes' }, 'follow'],
    ['sinceTime garbage', { sinceTime: 'yesterday' }, 'sinceTime'],
    ['both since', { sinceSeconds: '5', sinceTime: '2026-01-02T03:04:05Z' }, 'sinceSeconds'],
  ];
  it.each(bad)('rejects %s naming the parameter', (_name, query, field) => {
    let caught: unknown;
    try {
      logOptsFromQuery(query);
    } catch (err) {
      caught = err;
    }
    expect(codeOf(caught)).toBe('INVALID_INPUT');
    expect((caught as { field?: string }).field).toBe(field);
  });

  it('maps the target into the exact interLink field names', () => {
    expect(logStruct({ namespace: 'ns', podName: 'p', podUid: 'u-1', container: 'c' }, { Tail: 1 })).toEqual({
      Namespace: 'ns',
      PodUID: 'u-1',
      PodName: 'p',
      ContainerName: 'c',
      Opts: { Tail: 1 },
    });
  });
});
