import { isIP } from 'node:net';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { InputError, loadConfig, LOG_LEVELS, type ConfigOf } from '@brine/common';
import { minionIdProblem } from '@brine/protocol';
import { KEY_PROTECTIONS, type KeyProtection, type KeyProtectionOptions } from './key-store.js';
import { MASTER_TYPES, parseMasterAddress, type MasterAddress, type MasterType } from './masters.js';

export const DEFAULT_MINION_CONFIG = '/etc/brine/minion';

const spec = {
  /** Master host (`host`, `host:port`, `[v6]:port`), or a list of them: the masters of one cluster. */
  master: { type: 'string-list', default: ['brine'] },
  master_port: { type: 'integer', default: 4506, min: 1, max: 65535 },
  /**
   * Local address the connections to the master leave from (Salt's name), on a host
   * with several: the master may serve this minion only from some networks
   * (its minion_networks). Unset: the kernel chooses.
   */
  source_address: {
    type: 'optional-string',
    check: (a: string) => (isIP(a) !== 0 ? undefined : `'${a}' is not an IPv4 or IPv6 address`),
  },
  /**
   * With several masters: `failover` tries them in the listed order, `random` in an
   * order shuffled once per start; `str` (Salt's default) with a list behaves as
   * `failover`, since a minion holds one session at a time.
   */
  master_type: { type: 'enum', default: 'str', values: MASTER_TYPES },
  /** Salt's name for shuffling the list once per start (as `master_type: random`). */
  random_master: { type: 'boolean', default: false },
  /** Fingerprint of the master's (the cluster's) public key; without it the first master seen is trusted (TOFU), for the whole list. */
  master_finger: { type: 'optional-string' },
  id: { type: 'optional-string' },
  pki_dir: { type: 'path', default: '/etc/brine/pki/minion' },
  /**
   * Where the minion's secret key is kept: `tpm2` sealed to this machine's TPM2 with
   * systemd-creds (minion.key.cred), so a copy of the disk elsewhere cannot authenticate;
   * `file` a 0600 file (minion.key); `auto` the TPM where there is one. A plain key found
   * where the TPM is used is sealed and its file removed.
   */
  key_protection: { type: 'enum', default: 'auto', values: KEY_PROTECTIONS },
  /**
   * PCRs a sealed key is also bound to (systemd-creds --tpm2-pcrs): systemd's default 7, the
   * Secure Boot state. systemd 252 cannot unseal a credential bound to no PCR, so at least one.
   */
  tpm2_pcrs: {
    type: 'string',
    default: '7',
    check: (p: string) => (/^\d{1,2}(\+\d{1,2})*$/.test(p) ? undefined : `'${p}' is not a list of PCR numbers like 7 or 0+7`),
  },
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
  /** Seconds between pings that keep the session alive and notice a dead master (Salt's name; default 60). */
  master_alive_interval: { type: 'optional-integer', min: 1, max: 86400 },
  /** The old name of master_alive_interval, still read. */
  keepalive: { type: 'optional-integer', min: 5, max: 86400 },
  /** Seconds after which the daemon re-keys its session (a fresh handshake); keep it below the master's session_max_age. */
  rekey_interval: { type: 'integer', default: 3600, min: 2, max: 30 * 86400 },
  /** Messages (both directions) after which the daemon re-keys its session; below the master's session_max_messages. */
  rekey_messages: { type: 'integer', default: 100_000, min: 10, max: 2 ** 40 },
} as const;

const DEFAULT_ALIVE_INTERVAL = 60;

export type MinionConfig = Omit<
  ConfigOf<typeof spec>,
  'master' | 'master_type' | 'master_alive_interval' | 'keepalive' | 'key_protection'
> & {
  key_protection: KeyProtection;
  id: string;
  /** Parsed, in the listed order; `master_port` filled in where an entry names no port. */
  master: MasterAddress[];
  master_type: MasterType;
  master_alive_interval: number;
};

export function loadMinionConfig(file: string | undefined): MinionConfig {
  const { keepalive, master_alive_interval, ...config } = loadConfig(spec, file ?? DEFAULT_MINION_CONFIG, { explicit: file !== undefined });
  const invalid = (message: string) => new InputError('config_invalid', { file: config.configFile ?? '<defaults>' }, message);
  const id = config.id ?? hostname();
  const problem = minionIdProblem(id);
  if (problem) throw invalid(`minion id ${JSON.stringify(id)}: ${problem}`);
  if (keepalive !== undefined && master_alive_interval !== undefined) {
    throw invalid('set master_alive_interval only: keepalive is its old name');
  }
  if (config.master.length === 0) throw invalid("option 'master' must name at least one master");
  const master = config.master.map((entry) => {
    const address = parseMasterAddress(entry, config.master_port);
    if (!address) throw invalid(`option 'master': ${JSON.stringify(entry)} is not host, host:port, [v6] or [v6]:port (port 1-65535)`);
    return address;
  });
  return {
    ...config,
    id,
    master_type: config.master_type as MasterType,
    key_protection: config.key_protection as KeyProtection,
    master_alive_interval: master_alive_interval ?? keepalive ?? DEFAULT_ALIVE_INTERVAL,
    master,
  };
}

export const controlSocketPath = (config: Pick<MinionConfig, 'sock_dir'>): string => join(config.sock_dir, 'minion.sock');

/** How this minion keeps its secret key (key-store.ts). */
export const keyProtection = (config: Pick<MinionConfig, 'key_protection' | 'tpm2_pcrs'>): KeyProtectionOptions => ({
  protection: config.key_protection,
  pcrs: config.tpm2_pcrs,
});
