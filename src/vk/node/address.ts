/**
 * The node's InternalIP: `podIp` (env POD_IP, from the downward API when the VK runs in a
 * pod) when set, else the first non-internal IPv4 address of this host, as the kubelet
 * picks one. The apiserver dials this address for logs, and the serving certificate names
 * it, so both must agree: call this once and pass the result to both.
 */
import { type NetworkInterfaceInfo, networkInterfaces } from 'node:os';

export function resolveInternalIp(
  podIp: string | undefined,
  interfaces: NodeJS.Dict<NetworkInterfaceInfo[]> = networkInterfaces(),
): string | undefined {
  if (podIp) return podIp;
  const all = Object.values(interfaces).flatMap((list) => list ?? []);
  return (
    all.find((i) => i.family === 'IPv4' && !i.internal) ??
    all.find((i) => i.family === 'IPv6' && !i.internal && !i.address.startsWith('fe80'))
  )?.address;
}
