import { existsSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ensurePrivateDir, readKeyFile, writeKeyFile } from '@brine/common';
import { equalBytes, KEY_BYTES, minionIdProblem } from '@brine/protocol';
import { classifyKey, KEY_STATES, KeyStoreError, type Admission, type KeyState, type KeyStore, type NewKeyLimit } from './keystore.js';
import { shareWithGroup, type OperatorGroup } from './operator-group.js';

/** Salt's directory names, so an operator's muscle memory (and scripts) still work. */
const DIRS: Record<KeyState, string> = {
  accepted: 'minions',
  pending: 'minions_pre',
  rejected: 'minions_rejected',
  denied: 'minions_denied',
};

/** Why `path` cannot be looked at (ENOENT, EACCES, ...), or undefined when it can. */
function accessError(path: string): string | undefined {
  try {
    statSync(path);
    return undefined;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code ?? 'error';
  }
}

/**
 * Minion public keys on disk, one file per id in a directory per state (as
 * salt-key keeps them). The CLI and the daemon share it through the file system:
 * moves are renames, so each is atomic and seen by the other on its next look.
 */
export class FileKeyStore implements KeyStore {
  /** Accepted keys the daemon has read, with the file stamp they were read at. */
  private readonly acceptedCache = new Map<string, { stamp: string; key: Uint8Array }>();

  /**
   * `create` makes the directories (the daemon); otherwise a missing pki_dir is an error (the CLI).
   * With `group` (sock_group) the daemon opens the store to it: pki_dir 0750 (the secret
   * keys in it stay 0600), the state directories 0770 so members move and delete keys.
   */
  constructor(
    private readonly pkiDir: string,
    opts: { create: boolean; group?: OperatorGroup },
  ) {
    if (opts.create) {
      for (const state of KEY_STATES) ensurePrivateDir(this.dir(state));
      if (opts.group) {
        shareWithGroup(pkiDir, 0o750, opts.group);
        for (const state of KEY_STATES) shareWithGroup(this.dir(state), 0o770, opts.group);
      }
    } else {
      const err = accessError(this.dir('accepted'));
      if (err === 'EACCES')
        throw new KeyStoreError(
          'permission_denied',
          `permission denied on ${pkiDir}: only the master's user and members of its sock_group may manage keys`,
        );
      if (err)
        throw new KeyStoreError('pki_dir_missing', `no master key store at ${pkiDir}; check the config (-c) or start the master once`);
    }
  }

  private dir(state: KeyState): string {
    return join(this.pkiDir, DIRS[state]);
  }

  private path(state: KeyState, id: string): string {
    const problem = minionIdProblem(id);
    if (problem) throw new KeyStoreError('minion_id_invalid', `${JSON.stringify(id)}: ${problem}`);
    return join(this.dir(state), id);
  }

  read(state: KeyState, id: string): Uint8Array | undefined {
    const file = this.path(state, id);
    return existsSync(file) ? readKeyFile(file, KEY_BYTES, { secret: false }) : undefined;
  }

  /** Ids in one state, unsorted; files whose names are not valid ids are ignored. */
  private ids(state: KeyState): string[] {
    return readdirSync(this.dir(state)).filter((name) => minionIdProblem(name) === undefined);
  }

  /** Ids per state, sorted. */
  list(): Record<KeyState, string[]> {
    const out = {} as Record<KeyState, string[]>;
    for (const state of KEY_STATES) out[state] = this.ids(state).sort();
    return out;
  }

  async admit(id: string, key: Uint8Array, autoAccept: boolean, limit?: NewKeyLimit): Promise<Admission> {
    const { status, record, reason } = classifyKey(this, id, key, autoAccept, limit);
    if (record) writeKeyFile(this.path(record, id), key, { secret: false });
    return { status, recorded: record !== undefined, ...(reason && { reason }) };
  }

  /**
   * Whether `key` is, right now, the accepted key of `id`. One stat per call: the
   * file is re-read only when it changed, so a delete or reject made by the CLI
   * applies to the very next request.
   */
  isAccepted(id: string, key: Uint8Array): boolean {
    const file = this.path('accepted', id);
    const st = statSync(file, { bigint: true, throwIfNoEntry: false });
    if (!st) {
      this.acceptedCache.delete(id);
      return false;
    }
    const stamp = `${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}`;
    let cached = this.acceptedCache.get(id);
    if (!cached || cached.stamp !== stamp) {
      cached = { stamp, key: readKeyFile(file, KEY_BYTES, { secret: false }) };
      this.acceptedCache.set(id, cached);
    }
    return equalBytes(cached.key, key);
  }

  async move(id: string, from: KeyState, to: KeyState): Promise<void> {
    const dest = this.path(to, id);
    if (existsSync(dest)) throw new KeyStoreError('key_conflict', `${id} already has a key in ${to}; delete it first`);
    renameSync(this.path(from, id), dest);
  }

  async delete(id: string): Promise<KeyState[]> {
    const removed = KEY_STATES.filter((state) => existsSync(this.path(state, id)));
    for (const state of removed) rmSync(this.path(state, id));
    this.acceptedCache.delete(id);
    return removed;
  }

  /** Whether `id` holds a key in `state` (a stat, no read). */
  has(state: KeyState, id: string): boolean {
    return existsSync(this.path(state, id));
  }

  /** How many keys are in `state` now (one directory read). */
  count(state: KeyState): number {
    return this.ids(state).length;
  }

  /** The CLI changes the files itself, in another process: the next request's isAccepted sees it. */
  onRevoked(): void {}

  /** Files on this host are always current. */
  staleness(): undefined {
    return undefined;
  }
}
