import { BrineError } from '@brine/common';
import { equalBytes, fingerprint } from '@brine/protocol';
import { globMatch } from '@brine/states';

export const KEY_STATES = ['pending', 'accepted', 'rejected', 'denied'] as const;
export type KeyState = (typeof KEY_STATES)[number];

/** The states a key the master has not seen before can be recorded in. */
export type NewKeyState = 'accepted' | 'pending' | 'denied';

export class KeyStoreError extends BrineError {}

/** What the master decides when a minion presents a key, and whether that was recorded just now. */
export interface Admission {
  status: 'accepted' | 'pending' | 'rejected' | 'denied' | 'refused';
  recorded: boolean;
  /** Why a new key was not recorded (status `refused`). */
  reason?: string;
}

/** Why a new key may not be recorded in a state (see NewKeyLimits), or undefined when it may. */
export type NewKeyLimit = (state: NewKeyState) => string | undefined;

/**
 * Minion public keys by state, as salt-key keeps them: in files of pki_dir
 * (FileKeyStore) or, for several masters, in etcd (cluster/etcd-keystore.ts).
 * Reads are synchronous, from what this master knows now: the hot path of a
 * handshake storm never waits on a disk or network round trip. Changes are
 * asynchronous and applied by the time they resolve.
 */
export interface KeyStore {
  read(state: KeyState, id: string): Uint8Array | undefined;
  /** Ids per state, sorted. */
  list(): Record<KeyState, string[]>;
  /** Whether `key` is, right now, the accepted key of `id`. */
  isAccepted(id: string, key: Uint8Array): boolean;
  has(state: KeyState, id: string): boolean;
  count(state: KeyState): number;
  /**
   * Classifies a presented key and records it: an unknown id becomes pending (or
   * accepted with auto_accept); a known id with a different key is denied and the
   * presented key kept for the operator to inspect, never swapped in. Rejects when
   * a key to record cannot be (a cluster's etcd out of reach or changed meanwhile).
   */
  admit(id: string, key: Uint8Array, autoAccept: boolean, limit?: NewKeyLimit): Promise<Admission>;
  /**
   * Moves a key between states; an existing key in the destination is never
   * overwritten. Into `accepted`, `networks` become the key's own networks
   * (minion_networks for this id alone); none: the config's apply.
   */
  move(id: string, from: KeyState, to: KeyState, networks?: readonly string[]): Promise<void>;
  /**
   * Replaces the accepted key of `id` with `next` in one atomic write (a file rename; one etcd
   * transaction), only if `current` is still its accepted key: there is no moment at which
   * both or neither is accepted. The key's own networks stay. `minion rotate-key`.
   */
  replaceAccepted(id: string, current: Uint8Array, next: Uint8Array): Promise<void>;
  /** The networks the accepted key of `id` was given (`master keys accept --networks`), or undefined. */
  networks(id: string): readonly string[] | undefined;
  /** Removes every key held for `id`, whatever its state. Resolves to the states it was in. */
  delete(id: string): Promise<KeyState[]>;
  /**
   * Calls `listener` with each id whose accepted key another process or master
   * removed, as soon as this store learns it, so its sessions can be closed.
   */
  onRevoked(listener: (id: string) => void): void;
  /**
   * Why what this store knows cannot be trusted now (a cluster master cut off from
   * etcd for longer than stale_max), or undefined when it can.
   */
  staleness(): string | undefined;
}

/** Why `replaceAccepted` may not swap (the key asking is no longer the accepted one). */
export const notAcceptedNow = (id: string) =>
  new KeyStoreError('key_not_accepted', `the key asking to be replaced is not the accepted key of ${id} (any more); nothing was changed`);

/** Ids in `from` states matching any glob; `all` takes every id there. */
export function selectKeys(
  keys: Pick<KeyStore, 'list'>,
  from: readonly KeyState[],
  patterns: readonly string[],
  all: boolean,
): { state: KeyState; id: string }[] {
  const listed = keys.list();
  return from.flatMap((state) => listed[state].filter((id) => all || patterns.some((p) => globMatch(p, id))).map((id) => ({ state, id })));
}

export function fingerprintOf(keys: Pick<KeyStore, 'read'>, state: KeyState, id: string): string | undefined {
  const key = keys.read(state, id);
  return key && fingerprint(key);
}

/** One key as `master keys list` shows it; `networks`: an accepted key's own (`--networks`). */
export interface ListedKey {
  id: string;
  fingerprint: string;
  networks?: readonly string[];
}

export type KeyListing = Record<KeyState, ListedKey[]>;

/** Every key by state with its fingerprint, and the accepted keys' own networks. */
export function keyListing(keys: Pick<KeyStore, 'list' | 'read' | 'networks'>): KeyListing {
  const listed = keys.list();
  const entry = (state: KeyState, id: string): ListedKey => {
    const networks = state === 'accepted' ? keys.networks(id) : undefined;
    return { id, fingerprint: fingerprintOf(keys, state, id) ?? '', ...(networks && { networks }) };
  };
  return Object.fromEntries(KEY_STATES.map((state) => [state, listed[state].map((id) => entry(state, id))])) as KeyListing;
}

/** What to do with a presented key: the answer, and the state to record it in when it is new. */
export type Classification = { status: Admission['status']; record?: NewKeyState; reason?: string };

/** The decision of KeyStore.admit, from what the store holds now; both stores record `record` their own way. */
export function classifyKey(
  keys: Pick<KeyStore, 'read'>,
  id: string,
  key: Uint8Array,
  autoAccept: boolean,
  limit?: NewKeyLimit,
): Classification {
  if (keys.read('rejected', id)) return { status: 'rejected' };
  for (const state of ['accepted', 'pending'] as const) {
    const known = keys.read(state, id);
    if (!known) continue;
    if (equalBytes(known, key)) return { status: state };
    const denied = keys.read('denied', id);
    if (denied && equalBytes(denied, key)) return { status: 'denied' };
    const refusal = limit?.('denied');
    return refusal ? { status: 'refused', reason: refusal } : { status: 'denied', record: 'denied' };
  }
  const status = autoAccept ? 'accepted' : 'pending';
  const refusal = limit?.(status);
  return refusal ? { status: 'refused', reason: refusal } : { status, record: status };
}
