import { describe, expect, it } from 'vitest';
import { resolveInternalIp } from '../../../src/vk/node/address.ts';

const iface = (address: string, family: 'IPv4' | 'IPv6', internal = false) =>
  ({
    address,
    family,
    internal,
    netmask: '',
    mac: '',
    cidr: null,
  }) as unknown as import('node:os').NetworkInterfaceInfo;

describe('InternalIP', () => {
  it.each([
    ['POD_IP wins', '10.1.1.1', { eth0: [iface('192.168.0.2', 'IPv4')] }, '10.1.1.1'],
    [
      'first external IPv4',
      undefined,
      {
        lo: [iface('127.0.0.1', 'IPv4', true)],
        eth0: [iface('fe80::1', 'IPv6'), iface('192.168.0.2', 'IPv4')],
      },
      '192.168.0.2',
    ],
    [
      'IPv6-only host',
      undefined,
      { lo: [iface('::1', 'IPv6', true)], eth0: [iface('fe80::1', 'IPv6'), iface('2001:db8::5', 'IPv6')] },
      '2001:db8::5',
    ],
    ['loopback only', undefined, { lo: [iface('127.0.0.1', 'IPv4', true)] }, undefined],
  ] as const)('%s', (_n, podIp, ifaces, expected) => {
    expect(resolveInternalIp(podIp, ifaces as never)).toBe(expected);
  });
});
