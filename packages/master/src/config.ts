import { hostname } from 'node:os';
import { join } from 'node:path';
import { InputError, loadConfig, LOG_LEVELS, type ConfigOf } from '@brine/common';
import { networkProblem, nodegroupProblems } from '@brine/states';

export const DEFAULT_MASTER_CONFIG = '/etc/brine/master';

const ENDPOINT = /^https?:\/\/[^/\s]+:\d{1,5}$/;

/** `cluster:`: several masters sharing keys through etcd (docs/HA.md). Absent: one master, keys in pki_dir. */
const clusterSpec = {
  /** etcd client endpoints, every member's: http://host:2379, or https:// with `tls`. */
  etcd: {
    type: 'string-list',
    default: [],
    check: (urls: string[]) =>
      urls.length === 0
        ? 'list the etcd members, e.g. [http://10.0.0.1:2379]'
        : urls.filter((u) => !ENDPOINT.test(u)).map((u) => `'${u}' is not http(s)://host:port`)[0],
  },
  /** Where this cluster's keys live in etcd; several Brine clusters may share one etcd with different prefixes. */
  prefix: {
    type: 'string',
    default: '/brine',
    check: (p: string) => (/^\/[A-Za-z0-9._/-]*[^/]$/.test(p) ? undefined : 'must start with / and not end with /, e.g. /brine'),
  },
  /** This master's name in the cluster, in its audit records and in etcd (default: the host name). */
  name: {
    type: 'string',
    default: hostname(),
    check: (n: string) =>
      /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/.test(n) ? undefined : 'must be 1-63 letters, digits, dots, dashes or underscores',
  },
  /**
   * Seconds this master keeps serving after it last knew its view of the keys was
   * current (etcd quorum lost); then it refuses new sessions and requests with
   * `cluster_stale` until etcd is back (docs/SECURITY.md).
   */
  stale_max: { type: 'integer', default: 30, min: 1, max: 3600 },
  /**
   * Seconds between two pillar checks: each master hashes the pillar it compiles for
   * every accepted minion and compares with its peers' (docs/HA.md, Pillar divergence).
   */
  pillar_check: { type: 'integer', default: 15, min: 1, max: 3600 },
  /** TLS to etcd: the CA that signed the members' certificates, and this master's client certificate and key. */
  tls: {
    type: 'section',
    options: { ca: { type: 'optional-path' }, cert: { type: 'optional-path' }, key: { type: 'optional-path' } },
    check: (t: { ca?: string; cert?: string; key?: string }) =>
      !t.ca
        ? "'ca' is required (the CA that signed the etcd members' certificates)"
        : (t.cert === undefined) !== (t.key === undefined)
          ? `'${t.cert === undefined ? 'cert' : 'key'}' is missing: 'cert' and 'key' go together (this master's client certificate and its private key)`
          : undefined,
  },
} as const;

const spec = {
  /** Address to listen on: IPv4, or IPv6 (`::` takes IPv4 peers too). */
  interface: { type: 'string', default: '0.0.0.0' },
  port: { type: 'integer', default: 4506, min: 1, max: 65535 },
  /** Under /var/lib (the unit's StateDirectory): the master writes minion keys here at run time, and /etc is read-only to it. */
  pki_dir: { type: 'path', default: '/var/lib/brine/pki' },
  pillar_roots: { type: 'roots', default: ['/srv/brine/pillar'] },
  file_roots: { type: 'roots', default: ['/srv/brine/states'] },
  auto_accept: { type: 'boolean', default: false },
  /**
   * Salt's nodegroups: name -> compound expression, or list of minion ids. Used by
   * `N@name`, `match: nodegroup` and `-N`; a list of ids is how to give secrets to
   * a group of minions without trusting what they report about themselves.
   */
  nodegroups: { type: 'string-or-list-map', default: {} },
  /**
   * Serve `!secret` pillar values that grains reported by the minion selected
   * (top `match: grain`, G@/P@/S@, templates branching on grains). Off: a minion
   * can report any grains, so such secrets are withheld.
   */
  pillar_trust_minion_grains: { type: 'boolean', default: false },
  /**
   * Minion id glob -> networks (CIDRs, IPv4 and IPv6) it may be served from, as the
   * master sees its TCP peer: from anywhere else its handshake and requests are
   * refused (`network_refused`) and audited. The first glob in file order that
   * matches an id applies; ids matching none are unrestricted (`'*': [...]` last
   * restricts everyone). `master keys accept ID --networks` overrides it per minion.
   */
  minion_networks: {
    type: 'string-or-list-map',
    default: {},
    check: (map: Record<string, string | string[]>) => minionNetworksProblem(map),
  },
  log_level: { type: 'enum', default: 'info', values: LOG_LEVELS },
  audit_log: { type: 'path', default: '/var/log/brine/audit.jsonl' },
  /**
   * Holds the control socket (`master.sock`) that `master apply`/`ping`/`jobs` use.
   * Created when missing; an existing directory must be the master user's own and
   * mode 0700, or 0750 of sock_group (the master refuses to start rather than chmod
   * a shared directory).
   */
  sock_dir: { type: 'path', default: '/run/brine' },
  /**
   * Operators' group: its members may use the control socket (0660) and `master keys`
   * (key directories 0770), never read the master's secret keys. '' keeps both to the
   * master's user alone (socket 0600 in a 0700 sock_dir).
   */
  sock_group: { type: 'string', default: 'brine' },
  /** Job cache and the grains each minion last reported. */
  cachedir: { type: 'path', default: '/var/cache/brine/master' },
  /** Hours a job and its returns stay in the job cache (Salt's keep_jobs). */
  keep_jobs: { type: 'integer', default: 24, min: 1, max: 24 * 365 },
  /** Frames above this many bytes are refused and audited. */
  max_message_size: { type: 'integer', default: 1 << 20, min: 4096, max: 1 << 30 },
  /** Seconds one signed prekey is handed out before a fresh one replaces it. */
  prekey_rotate: { type: 'integer', default: 10, min: 1, max: 3600 },
  /** Seconds a minion has to answer a WELCOME. */
  handshake_timeout: { type: 'integer', default: 30, min: 1, max: 600 },
  /** Seconds an idle session is kept; minions keep theirs alive with pings. */
  session_timeout: { type: 'integer', default: 3600, min: 10, max: 7 * 86400 },
  /** Pending keys held at most; new keys beyond it are refused (and counted in the audit log), never written. */
  max_pending_keys: { type: 'integer', default: 1000, min: 1, max: 1_000_000 },
  /** New keys one address may have waiting (pending, or auto-accepted/denied within the hour). */
  max_pending_keys_per_address: { type: 'integer', default: 64, min: 1, max: 1_000_000 },
  /** Live connections one address may hold; a NAT in front of many minions needs more. */
  max_connections_per_address: { type: 'integer', default: 4096, min: 1, max: 1_000_000 },
  /** Seconds of silence (unanswered TCP keepalive probes) after which a connection, and what it holds, is released. */
  peer_timeout: { type: 'integer', default: 60, min: 2, max: 3600 },
  /** Seconds after its handshake a session is closed however busy (minions re-key before: their rekey_interval must be shorter). */
  session_max_age: { type: 'integer', default: 7200, min: 5, max: 30 * 86400 },
  /** Messages (both directions) after which a session is closed (minions re-key before, at rekey_messages). */
  session_max_messages: { type: 'integer', default: 1_000_000, min: 10, max: 2 ** 40 },
  /**
   * Worker threads that do the X25519 work of handshakes (two per new session), beside the
   * main thread that keeps the socket, sessions and sealing; 0 does it on the main thread.
   */
  handshake_workers: { type: 'integer', default: 1, min: 0, max: 16 },
  /**
   * libzmq I/O threads: TCP, ZMTP and PLAIN of the minions' connections, each connection on
   * one of them. A boot storm's connection work spreads over this many cores.
   */
  io_threads: { type: 'integer', default: 1, min: 1, max: 16 },
  /** Pending TCP connections the kernel queues; a small backlog makes boot storms slow. */
  listen_backlog: { type: 'integer', default: 4096, min: 16, max: 65535 },
  cluster: {
    type: 'section',
    options: clusterSpec,
    check: (c: { etcd: string[]; tls?: object }) =>
      (c.tls !== undefined) !== c.etcd.every((u) => u.startsWith('https://'))
        ? "with 'tls' every etcd endpoint is https://, without it http://"
        : undefined,
  },
} as const;

/** What is wrong with `minion_networks` (the glob and the bad network), or undefined. */
function minionNetworksProblem(map: Record<string, string | string[]>): string | undefined {
  for (const [glob, networks] of Object.entries(map)) {
    const list = typeof networks === 'string' ? [networks] : networks;
    if (list.length === 0) return `'${glob}': list at least one network (a minion with none could never connect)`;
    const problem = list.map(networkProblem).find((p) => p !== undefined);
    if (problem) return `'${glob}': ${problem}`;
  }
  return undefined;
}

export type MasterConfig = ConfigOf<typeof spec>;
export type ClusterConfig = NonNullable<MasterConfig['cluster']>;

export const controlSocketPath = (config: Pick<MasterConfig, 'sock_dir'>): string => join(config.sock_dir, 'master.sock');

export function loadMasterConfig(file: string | undefined): MasterConfig {
  const config = loadConfig(spec, file ?? DEFAULT_MASTER_CONFIG, { explicit: file !== undefined });
  const problems = nodegroupProblems(config.nodegroups);
  if (problems.length > 0)
    throw new InputError(
      'config_invalid',
      { file: config.configFile ?? DEFAULT_MASTER_CONFIG },
      `option 'nodegroups': ${problems.join('; ')}`,
    );
  return config;
}
