import { existsSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { ensurePrivateDir, readKeyFile, writeKeyFile } from '@brine/common';
import { equalBytes, KEY_BYTES, minionIdProblem } from '@brine/protocol';
import { networkProblem } from '@brine/states';
import {
  classifyKey,
  KEY_STATES,
  KeyStoreError,
  notAcceptedNow,
  type Admission,
  type KeyState,
  type KeyStore,
  type NewKeyLimit,
} from './keystore.js';
import { shareWithGroup, type OperatorGroup } from './operator-group.js';

/** Salt's directory names, so an operator's muscle memory (and scripts) still work. */
const DIRS: Record<KeyState, string> = {
  accepted: 'minions',
  pending: 'minions_pre',
  rejected: 'minions_rejected',
  denied: 'minions_denied',
};

/** Accepted keys' own networks (`master keys accept --networks`): a file per id, one network a line. */
const NETWORKS_DIR = 'minions_networks';

/** Why `path` cannot be looked at (ENOENT, EACCES, ...), or undefined when it can. */
function accessError(path: string): string | undefined {
  try {
    statSync(path);
    return undefined;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code ?? 'error';
  }
}

interface Stamped<T> {
  stamp: string;
  value: T;
}

/**
 * `file` read through `cache` (under `key`): one stat per call, the file read again
 * only when it changed, so a change made by the CLI applies to the very next request.
 * Undefined when the file does not exist.
 */
function readStamped<T>(file: string, cache: Map<string, Stamped<T>>, key: string, read: (file: string) => T): T | undefined {
  const st = statSync(file, { bigint: true, throwIfNoEntry: false });
  if (!st) {
    cache.delete(key);
    return undefined;
  }
  const stamp = `${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}`;
  let cached = cache.get(key);
  if (!cached || cached.stamp !== stamp) {
    cached = { stamp, value: read(file) };
    cache.set(key, cached);
  }
  return cached.value;
}

/**
 * Minion public keys on disk, one file per id in a directory per state (as
 * salt-key keeps them). The CLI and the daemon share it through the file system:
 * moves are renames, so each is atomic and seen by the other on its next look.
 */
export class FileKeyStore implements KeyStore {
  /** Accepted keys the daemon has read, with the file stamp they were read at. */
  private readonly acceptedCache = new Map<string, Stamped<Uint8Array>>();
  /** Networks files the daemon has read, with their stamps (as acceptedCache). */
  private readonly networksCache = new Map<string, Stamped<string[]>>();

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
      for (const dir of this.dirs()) ensurePrivateDir(dir);
      if (opts.group) {
        shareWithGroup(pkiDir, 0o750, opts.group);
        for (const dir of this.dirs()) shareWithGroup(dir, 0o770, opts.group);
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

  /** Every directory of the store: one per key state, and the accepted keys' networks. */
  private dirs(): string[] {
    return [...KEY_STATES.map((state) => this.dir(state)), join(this.pkiDir, NETWORKS_DIR)];
  }

  private networksPath(id: string): string {
    this.path('accepted', id); // checks the id
    return join(this.pkiDir, NETWORKS_DIR, id);
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
    const accepted = readStamped(this.path('accepted', id), this.acceptedCache, id, (file) =>
      readKeyFile(file, KEY_BYTES, { secret: false }),
    );
    return accepted !== undefined && equalBytes(accepted, key);
  }

  async replaceAccepted(id: string, current: Uint8Array, next: Uint8Array): Promise<void> {
    if (!this.isAccepted(id, current)) throw notAcceptedNow(id);
    // One rename over the accepted file: the old key until it, the new one after.
    writeKeyFile(this.path('accepted', id), next, { secret: false });
  }

  async move(id: string, from: KeyState, to: KeyState, networks?: readonly string[]): Promise<void> {
    const dest = this.path(to, id);
    if (existsSync(dest)) throw new KeyStoreError('key_conflict', `${id} already has a key in ${to}; delete it first`);
    // Networks first: the key is never accepted, even for a moment, without the networks it was accepted with.
    if (to === 'accepted') this.writeNetworks(id, networks);
    renameSync(this.path(from, id), dest);
    // They belong to the accepted record, and go with it.
    if (from === 'accepted') this.writeNetworks(id, undefined);
  }

  /** Writes (atomically) or removes the networks file of `id`. */
  private writeNetworks(id: string, networks: readonly string[] | undefined): void {
    const file = this.networksPath(id);
    if (!networks || networks.length === 0) {
      rmSync(file, { force: true });
      return;
    }
    if (!existsSync(dirname(file)))
      throw new KeyStoreError('pki_dir_outdated', `${dirname(file)} is missing; start the master once (it creates it), then accept again`);
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, `${networks.join('\n')}\n`, { mode: 0o644 });
    renameSync(tmp, file);
  }

  networks(id: string): readonly string[] | undefined {
    return readStamped(this.networksPath(id), this.networksCache, id, (file) => {
      const networks = readFileSync(file, 'utf8')
        .split('\n')
        .map((line) => line.trim())
        .filter((line) => line !== '' && !line.startsWith('#'));
      // A file edited into something unreadable matches no address: refused, never opened up.
      return networks.every((n) => networkProblem(n) === undefined) ? networks : [];
    });
  }

  async delete(id: string): Promise<KeyState[]> {
    const removed = KEY_STATES.filter((state) => existsSync(this.path(state, id)));
    for (const state of removed) rmSync(this.path(state, id));
    rmSync(this.networksPath(id), { force: true });
    this.acceptedCache.delete(id);
    this.networksCache.delete(id);
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
