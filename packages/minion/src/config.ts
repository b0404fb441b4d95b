import { hostname } from 'node:os';
import { loadConfig, LOG_LEVELS, type ConfigOf } from '@brine/common';

export const DEFAULT_MINION_CONFIG = '/etc/brine/minion';

const spec = {
  /** Master host, or host:port. */
  master: { type: 'string', default: 'brine' },
  master_port: { type: 'integer', default: 4506, min: 1, max: 65535 },
  /** Fingerprint of the master's public key; without it the first master seen is trusted (TOFU). */
  master_finger: { type: 'optional-string' },
  id: { type: 'optional-string' },
  pki_dir: { type: 'path', default: '/etc/brine/pki/minion' },
  cachedir: { type: 'path', default: '/var/cache/brine/minion' },
  log_level: { type: 'enum', default: 'info', values: LOG_LEVELS },
  file_roots: { type: 'roots', default: ['/srv/brine/states'] },
  pillar_roots: { type: 'roots', default: ['/srv/brine/pillar'] },
  startup_states: { type: 'enum', default: '', values: ['', 'highstate', 'sls'] },
  sls_list: { type: 'string-list', default: [] },
  grains: { type: 'map', default: {} },
  /** Seconds to wait for the master's answer to one request. */
  request_timeout: { type: 'integer', default: 30, min: 1, max: 3600 },
} as const;

export type MinionConfig = ConfigOf<typeof spec> & { id: string };

export function loadMinionConfig(file: string | undefined): MinionConfig {
  const config = loadConfig(spec, file ?? DEFAULT_MINION_CONFIG, { explicit: file !== undefined });
  return { ...config, id: config.id ?? hostname() };
}
