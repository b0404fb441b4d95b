import { readFileSync } from 'node:fs';
import { round } from './proc.mjs';

/** VmRSS and its parts (anonymous: heaps and buffers; file: mapped binaries and libraries), and the peak, in MiB. */
export function memoryMiB(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (field) => Number(new RegExp(`^${field}:\\s+(\\d+)`, 'm').exec(status)[1]);
  return {
    rss: round(kib('VmRSS') / 1024),
    anon: round(kib('RssAnon') / 1024),
    file: round(kib('RssFile') / 1024),
    peak: round(kib('VmHWM') / 1024),
  };
}
