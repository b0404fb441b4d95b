import { fingerprintOf, KEY_STATES, selectKeys, type KeyState, type KeyStore } from './keystore.js';

/** What is audited about one key changed by `master keys`. */
export interface KeyAuditRecord {
  event: 'key_accepted' | 'key_rejected' | 'key_deleted';
  minion: string;
  fingerprint?: string;
  reason: string;
}

/** `master keys accept|reject|delete`: which keys, by id or glob. */
export interface KeyAction {
  verb: 'accept' | 'reject' | 'delete';
  patterns: string[];
  all: boolean;
  /** accept: also take matching rejected keys. */
  includeRejected: boolean;
  /** accept: the networks the accepted keys may be served from, instead of minion_networks' (docs/SECURITY.md). */
  networks?: string[];
}

/** One key changed: from which states, to which (none: deleted). */
export interface KeyChange {
  id: string;
  from: KeyState[];
  to?: 'accepted' | 'rejected';
  fingerprint?: string;
}

const SOURCES = {
  accept: (a: KeyAction): KeyState[] => (a.includeRejected ? ['pending', 'rejected'] : ['pending']),
  reject: (): KeyState[] => ['pending', 'accepted'],
  delete: (): KeyState[] => [...KEY_STATES],
};

const EVENT = { accept: 'key_accepted', reject: 'key_rejected', delete: 'key_deleted' } as const;

/**
 * Applies an action key by key, recording each change (the audit trail) as soon
 * as it is made and yielding it, so that a failure part way (etcd lost) still
 * reports exactly what was done.
 */
export async function* applyKeyAction(keys: KeyStore, action: KeyAction, record: (r: KeyAuditRecord) => void): AsyncGenerator<KeyChange> {
  const selected = selectKeys(keys, SOURCES[action.verb](action), action.patterns, action.all);
  if (action.verb === 'delete') {
    for (const id of new Set(selected.map((k) => k.id))) {
      const fp = KEY_STATES.map((state) => fingerprintOf(keys, state, id)).find((f) => f !== undefined);
      const from = await keys.delete(id);
      record({ event: EVENT.delete, minion: id, ...(fp && { fingerprint: fp }), reason: `deleted from ${from.join(', ')}` });
      yield { id, from, ...(fp && { fingerprint: fp }) };
    }
    return;
  }
  const to = action.verb === 'accept' ? 'accepted' : 'rejected';
  for (const { state, id } of selected) {
    const fp = fingerprintOf(keys, state, id);
    const networks = to === 'accepted' && action.networks?.length ? action.networks : undefined;
    await keys.move(id, state, to, networks);
    const reason = `${state} -> ${to}${networks ? ` (networks ${networks.join(', ')})` : ''}`;
    record({ event: EVENT[action.verb], minion: id, ...(fp && { fingerprint: fp }), reason });
    yield { id, from: [state], to, ...(fp && { fingerprint: fp }) };
  }
}

/** How `master keys` prints a change (as salt-key would say it). */
export function describeKeyChange(c: KeyChange): string {
  return c.to ? `${c.to} ${c.id} (${c.fingerprint})` : `deleted ${c.id} (${c.from.join(', ')})`;
}

/** What `master keys` says when an action matched nothing. */
export function noKeysMatch(action: KeyAction): string {
  if (action.verb === 'delete') return `no keys match ${action.patterns.join(' ')}`;
  return `no ${SOURCES[action.verb](action).join(' or ')} keys match ${action.all ? '--all' : action.patterns.join(' ')}`;
}
