import { hostname } from 'node:os';
import { join } from 'node:path';
import { InputError, loadConfig, LOG_LEVELS, type ConfigOf } from '@brine/common';
import { minionIdProblem } from '@brine/protocol';

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
  /**
   * Directory of the daemon's control socket (`minion.sock`, through which `minion
   * apply` runs states): created 0700 when missing; an existing one must be the
   * daemon's user's, mode 0700. Not the master's /run/brine, which its user owns.
   */
  sock_dir: { type: 'path', default: '/run/brine-minion' },
  log_level: { type: 'enum', default: 'info', values: LOG_LEVELS },
  file_roots: { type: 'roots', default: ['/srv/brine/states'] },
  pillar_roots: { type: 'roots', default: ['/srv/brine/pillar'] },
  startup_states: { type: 'enum', default: '', values: ['', 'highstate', 'sls'] },
  sls_list: { type: 'string-list', default: [] },
  grains: { type: 'map', default: {} },
  /** Seconds to wait for the master's answer to one request. */
  request_timeout: { type: 'integer', default: 30, min: 1, max: 3600 },
  /** Seconds between retries while the master has not accepted this minion's key (Salt's name). */
  acceptance_wait_time: { type: 'integer', default: 10, min: 1, max: 3600 },
  /** Longest wait, in seconds, between attempts to reach an unreachable master. */
  reconnect_max: { type: 'integer', default: 30, min: 1, max: 3600 },
  /** Longest wait, in seconds, before startup states that failed are run again (they retry until they succeed). */
  startup_retry_max: { type: 'integer', default: 300, min: 1, max: 86400 },
  /** Seconds between pings that keep the session alive and notice a lost master. */
  keepalive: { type: 'integer', default: 60, min: 5, max: 86400 },
  /** Seconds after which the daemon re-keys its session (a fresh handshake); keep it below the master's session_max_age. */
  rekey_interval: { type: 'integer', default: 3600, min: 2, max: 30 * 86400 },
  /** Messages (both directions) after which the daemon re-keys its session; below the master's session_max_messages. */
  rekey_messages: { type: 'integer', default: 100_000, min: 10, max: 2 ** 40 },
} as const;

export type MinionConfig = ConfigOf<typeof spec> & { id: string };

export function loadMinionConfig(file: string | undefined): MinionConfig {
  const config = loadConfig(spec, file ?? DEFAULT_MINION_CONFIG, { explicit: file !== undefined });
  const id = config.id ?? hostname();
  const problem = minionIdProblem(id);
  if (problem) throw new InputError('config_invalid', { file: config.configFile ?? '<defaults>' }, `minion id ${JSON.stringify(id)}: ${problem}`);
  return { ...config, id };
}

/** Splits `master` into host and port: `host`, `host:port`, `[v6]` or `[v6]:port`. */
export function masterAddress(config: Pick<MinionConfig, 'master' | 'master_port'>): { host: string; port: number } {
  const m = /^\[([^\]]+)\](?::(\d+))?$/.exec(config.master) ?? /^([^:]+)(?::(\d+))?$/.exec(config.master);
  if (!m) return { host: config.master, port: config.master_port };
  return { host: m[1]!, port: m[2] ? Number(m[2]) : config.master_port };
}

export const controlSocketPath = (config: Pick<MinionConfig, 'sock_dir'>): string => join(config.sock_dir, 'minion.sock');
