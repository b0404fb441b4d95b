import { isIPv4 } from 'node:net';

function toInt(ip: string): number {
  return ip.split('.').reduce((acc, octet) => acc * 256 + Number(octet), 0);
}

/** Whether an IPv4 address is `network` (a.b.c.d/len) or equal to it (a bare address). */
export function ipInNetwork(address: string, network: string): boolean {
  const [base, lenText] = network.split('/');
  if (!isIPv4(address) || !base || !isIPv4(base)) return false;
  if (lenText === undefined) return address === base;
  const len = Number(lenText);
  if (!Number.isInteger(len) || len < 0 || len > 32) return false;
  const size = 2 ** (32 - len);
  return Math.floor(toInt(address) / size) === Math.floor(toInt(base) / size);
}
