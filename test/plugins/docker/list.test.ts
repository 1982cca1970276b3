import { describe, expect, it } from 'vitest';
import { listArgs, parseList } from '../../../src/plugins/docker/list.ts';

const P = 'interlink.vk.io';

describe('docker list: argv and parsing', () => {
  it('asks ONE docker ps for every container of the instance, labels as columns', () => {
    expect(listArgs('site-a')).toEqual([
      'ps',
      '--all',
      '--no-trunc',
      '--filter',
      `label=${P}/instance=site-a`,
      '--format',
      `{{.ID}}\t{{.Label "${P}/pod-uid"}}\t{{.Label "${P}/pod-namespace"}}\t{{.Label "${P}/pod-name"}}\t{{.Label "${P}/role"}}`,
    ]);
  });

  it.each([
    { what: 'nothing', out: '', want: [] },
    {
      what: 'one pod: JID is the name of the infra container, whatever the line order',
      out: 'c1\tu-1\tdefault\tweb\tapp\ninfra1\tu-1\tdefault\tweb\tinfra\nc2\tu-1\tdefault\tweb\tinit\n',
      want: [{ UID: 'u-1', namespace: 'default', name: 'web', JID: 'ilk_POD_web_default_u-1' }],
    },
    {
      what: 'two pods; a half-created one without infra has no JID',
      out: 'i1\tu-1\tns1\ta\tinfra\nc9\tu-2\tns2\tb\tapp\n',
      want: [
        { UID: 'u-1', namespace: 'ns1', name: 'a', JID: 'ilk_POD_a_ns1_u-1' },
        { UID: 'u-2', namespace: 'ns2', name: 'b' },
      ],
    },
    {
      what: 'containers whose labels are not a valid pod identity are left out',
      out: 'x1\t\t\t\t\nx2\t../etc\tdefault\tp\tinfra\nx3\tu-3\tBad_NS\tp\tinfra\nx4\tu-4\tdefault\tok\tinfra\n',
      want: [{ UID: 'u-4', namespace: 'default', name: 'ok', JID: 'ilk_POD_ok_default_u-4' }],
    },
  ])('$what', ({ out, want }) => {
    expect(parseList(out)).toEqual(want);
  });
});
