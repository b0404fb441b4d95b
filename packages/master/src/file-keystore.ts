import { existsSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { BrineError, ensurePrivateDir, readKeyFile, writeKeyFile } from '@brine/common';
import { equalBytes, fingerprint, KEY_BYTES, minionIdProblem } from '@brine/protocol';
import { globMatch } from '@brine/states';
import { shareWithGroup, type OperatorGroup } from './operator-group.js';

export const KEY_STATES = ['pending', 'accepted', 'rejected', 'denied'] as const;
export type KeyState = (typeof KEY_STATES)[number];

/** Salt's directory names, so an operator's muscle memory (and scripts) still work. */
const DIRS: Record<KeyState, string> = {
  accepted: 'minions',
  pending: 'minions_pre',
  rejected: 'minions_rejected',
  denied: 'minions_denied',
};

/** The states a key the master has not seen before can be recorded in. */
export type NewKeyState = 'accepted' | 'pending' | 'denied';

export class KeyStoreError extends BrineError {}

/** Why `path` cannot be looked at (ENOENT, EACCES, ...), or undefined when it can. */
function accessError(path: string): string | undefined {
  try {
    statSync(path);
    return undefined;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code ?? 'error';
  }
}

/** What the master decides when a minion presents a key, and whether that was recorded just now. */
export interface Admission {
  status: 'accepted' | 'pending' | 'rejected' | 'denied' | 'refused';
  recorded: boolean;
  /** Why a new key was not recorded (status `refused`). */
  reason?: string;
}

/**
 * Minion public keys on disk, one file per id in a directory per state (as
 * salt-key keeps them). The CLI and the daemon share it through the file system:
 * moves are renames, so each is atomic and seen by the other on its next look.
 */
export class KeyStore {
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
      if (err === 'EACCES') throw new KeyStoreError('permission_denied', `permission denied on ${pkiDir}: only the master's user and members of its sock_group may manage keys`);
      if (err) throw new KeyStoreError('pki_dir_missing', `no master key store at ${pkiDir}; check the config (-c) or start the master once`);
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

  /**
   * Classifies a presented key and records it: an unknown id becomes pending (or
   * accepted with auto_accept); a known id with a different key is denied and the
   * presented key kept for the operator to inspect, never swapped in.
   */
  admit(id: string, key: Uint8Array, autoAccept: boolean, limit?: (status: NewKeyState) => string | undefined): Admission {
    if (this.read('rejected', id)) return { status: 'rejected', recorded: false };
    for (const state of ['accepted', 'pending'] as const) {
      const known = this.read(state, id);
      if (!known) continue;
      if (equalBytes(known, key)) return { status: state, recorded: false };
      const denied = this.read('denied', id);
      if (denied && equalBytes(denied, key)) return { status: 'denied', recorded: false };
      const refusal = limit?.('denied');
      if (refusal) return { status: 'refused', recorded: false, reason: refusal };
      writeKeyFile(this.path('denied', id), key, { secret: false });
      return { status: 'denied', recorded: true };
    }
    const status = autoAccept ? 'accepted' : 'pending';
    const refusal = limit?.(status);
    if (refusal) return { status: 'refused', recorded: false, reason: refusal };
    writeKeyFile(this.path(status, id), key, { secret: false });
    return { status, recorded: true };
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

  /** Ids in `from` states matching any glob; `all` takes every id there. */
  select(from: readonly KeyState[], patterns: readonly string[], all: boolean): { state: KeyState; id: string }[] {
    const listed = this.list();
    return from.flatMap((state) => listed[state].filter((id) => all || patterns.some((p) => globMatch(p, id))).map((id) => ({ state, id })));
  }

  /** Moves a key between states; an existing key in the destination is never overwritten. */
  move(id: string, from: KeyState, to: KeyState): void {
    const dest = this.path(to, id);
    if (existsSync(dest)) throw new KeyStoreError('key_conflict', `${id} already has a key in ${to}; delete it first`);
    renameSync(this.path(from, id), dest);
  }

  /** Removes every key held for `id`, whatever its state. Returns the states it was in. */
  delete(id: string): KeyState[] {
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

  fingerprintOf(state: KeyState, id: string): string | undefined {
    const key = this.read(state, id);
    return key && fingerprint(key);
  }
}
