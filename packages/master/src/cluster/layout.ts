import { KEY_BYTES, minionIdProblem } from '@brine/protocol';
import { networkProblem } from '@brine/states';
import { KEY_STATES, type KeyState } from '../keystore.js';

/*
 * What a cluster keeps in etcd, below its prefix (cluster.prefix, default /brine):
 *
 *   master/identity         the public key every master of the cluster holds (JSON)
 *   keys/<state>/<id>       a minion key: state pending|accepted|rejected|denied (JSON)
 *   keys/revision           moved by every key change (see Freshness)
 *   jobs/<jid>              a job: JobRecord with the master that published or recorded it
 *   returns/<jid>/<id>      a minion's return for it: MinionReturn with the master that received it
 *   grains/<id>             the grains the minion last reported
 *   sessions/<id>           which master holds its daemon session, from where, since when (that master's lease)
 *   seen/<id>               when and where a master last heard from it
 *   pillar/<id>/<master>    the keyed hash of the pillar that master compiles for it (that master's lease)
 */

export const MASTER_IDENTITY = 'master/identity';
export const KEYS = 'keys/';
export const KEYS_MARKER = 'keys/revision';

export const keyPath = (state: KeyState, id: string): string => `${KEYS}${state}/${id}`;

/**
 * A minion key as stored: the key, and which master recorded it when (for operators
 * reading etcd); an accepted key may carry its own networks (`master keys accept --networks`).
 */
export interface StoredKey {
  key: string;
  master: string;
  at: string;
  networks?: string[];
}

export const storedKey = (key: Uint8Array, master: string, networks?: readonly string[]): string =>
  JSON.stringify({
    key: Buffer.from(key).toString('base64'),
    master,
    at: new Date().toISOString(),
    ...(networks?.length && { networks: [...networks] }),
  } satisfies StoredKey);

/**
 * The state, id and key of an etcd entry below keys/ (no key: deleted), or undefined
 * for anything else (the marker, a stranger's entry). An unreadable value is an
 * empty key: the entry still counts (a rejection stays one), and matches no key.
 */
export function parseKeyEntry(
  path: string,
  value: Buffer | undefined,
): { state: KeyState; id: string; key: Uint8Array | undefined; networks?: string[] } | undefined {
  const [top, state, id, ...rest] = path.split('/');
  if (`${top}/` !== KEYS || !KEY_STATES.includes(state as KeyState) || id === undefined || rest.length > 0 || minionIdProblem(id))
    return undefined;
  if (value === undefined) return { state: state as KeyState, id, key: undefined };
  try {
    const stored = JSON.parse(value.toString('utf8')) as StoredKey;
    const key = Buffer.from(stored.key, 'base64');
    const parsed = { state: state as KeyState, id, key: key.length === KEY_BYTES ? new Uint8Array(key) : new Uint8Array(0) };
    // Networks that are not a list of valid networks: none at all, which matches no address (refused, not opened up).
    if (stored.networks === undefined) return parsed;
    const valid = Array.isArray(stored.networks) && stored.networks.every((n) => typeof n === 'string' && networkProblem(n) === undefined);
    return { ...parsed, networks: valid ? stored.networks : [] };
  } catch {
    return { state: state as KeyState, id, key: new Uint8Array(0) };
  }
}

export const JOBS = 'jobs/';
export const RETURNS = 'returns/';
export const GRAINS = 'grains/';
export const SESSIONS = 'sessions/';
export const SEEN = 'seen/';
export const PILLAR_HASHES = 'pillar/';

/** Largest value Brine writes to etcd, well below etcd's default request limit (1.5 MiB). */
export const MAX_VALUE_BYTES = 1 << 20;
