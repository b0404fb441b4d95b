import { readFileSync } from 'node:fs';
import { round } from './proc.mjs';

const field = (text, name) => Number(new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(text)[1]);

/**
 * VmRSS and its parts (anonymous: heaps and buffers; file: mapped binaries and libraries), the
 * peak, and from smaps_rollup PSS (shared pages split between their users) and USS (pages this
 * process alone maps: what it costs beyond the Node binary and libraries every Node process
 * shares), in MiB.
 */
export function memoryMiB(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const rollup = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
  const mib = (kib) => round(kib / 1024);
  return {
    rss: mib(field(status, 'VmRSS')),
    anon: mib(field(status, 'RssAnon')),
    file: mib(field(status, 'RssFile')),
    peak: mib(field(status, 'VmHWM')),
    pss: mib(field(rollup, 'Pss')),
    uss: mib(field(rollup, 'Private_Clean') + field(rollup, 'Private_Dirty')),
  };
}
