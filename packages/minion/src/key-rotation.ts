import { BrineError, readKeyFile, type Logger } from '@brine/common';
import { fingerprint, MASTER_IDENTITY_BYTES, minionKeyProof, splitMasterIdentity, type X25519Key } from '@brine/protocol';
import { ChannelError } from './channel.js';
import { keyProtection, type MinionConfig } from './config.js';
import { openMinionContext, roleLogger } from './connect.js';
import {
  createPendingMinionKey,
  dropPendingMinionKey,
  installPendingMinionKey,
  loadMinionIdentity,
  loadPendingMinionKey,
  minionKeyPaths,
} from './identity.js';

/*
 * `minion rotate-key` (PROTOCOL.md, Minion key rotation). Crash-safe order:
 *   1. the new key pair is written as minion.key.next / minion.pub.next (fsynced) before anything is asked;
 *   2. over a session the current key authenticates, `key.rotate` with the new public key and its
 *      proof: the master swaps its accepted key in one write;
 *   3. the new key is installed (secret renamed over minion.key, then minion.pub), the pending files removed.
 * A crash after 2 and before 3 leaves the master accepting a key the minion holds only as pending:
 * settlePendingKey, run at every start of the daemon and before every one-shot command, sees the
 * current key refused, the pending one accepted, and installs it. The only accepted key is never
 * lost: the pending secret is deleted only once it is minion.key.
 */

/** Auth answers that mean the master no longer accepts the key the minion presented. */
const REFUSED_KEY = new Set(['denied', 'rejected', 'revoked', 'pending', 'key_not_accepted']);

/** Whether the master accepts `key` for this minion (a ping in a one-shot session); undefined when it cannot tell. */
async function accepts(config: MinionConfig, log: Logger, key?: X25519Key): Promise<boolean | undefined> {
  const ctx = openMinionContext(config, 'cli', log, key);
  try {
    await ctx.channel.request('ping');
    return true;
  } catch (err) {
    if (err instanceof ChannelError && REFUSED_KEY.has(err.code)) return false;
    log.warn({ code: (err as BrineError).code, reason: (err as Error).message }, 'could not tell whether the master accepts a key');
    return undefined;
  } finally {
    ctx.channel.close();
  }
}

/**
 * Finishes a rotation a crash interrupted: when a pending key exists, the current key is
 * refused by the master and the pending one accepted, installs the pending one. Leaves
 * everything as it is when the master accepts the current key (the pending key is kept, and
 * the next `minion rotate-key` offers it again) or cannot be reached.
 */
export async function settlePendingKey(config: MinionConfig, log: Logger): Promise<'none' | 'installed' | 'kept'> {
  const pending = loadPendingMinionKey(config.pki_dir, keyProtection(config));
  if (!pending) return 'none';
  try {
    const current = await accepts(config, log);
    if (current !== false) return 'kept';
    if ((await accepts(config, log, pending)) !== true) return 'kept';
    installPendingMinionKey(config.pki_dir, keyProtection(config));
    log.warn(
      { fingerprint: fingerprint(pending.publicKey) },
      'finished an interrupted key rotation: the master accepts the new key, which is now installed',
    );
    return 'installed';
  } finally {
    pending.destroy();
  }
}

/** The master's X25519 public key this minion pinned (the proof is made for it). */
function pinnedMasterBox(config: MinionConfig): Uint8Array {
  const pin = minionKeyPaths(config.pki_dir).master;
  try {
    return splitMasterIdentity(readKeyFile(pin, MASTER_IDENTITY_BYTES, { secret: false })).boxPublic;
  } catch (err) {
    throw new BrineError(
      'master_not_pinned',
      `no pinned master key in ${pin} (${(err as Error).message}): start the minion once before rotating its key`,
    );
  }
}

export interface RotationOutcome {
  old: string;
  new: string;
  /** The master had already moved (an earlier attempt that was cut short). */
  resumed: boolean;
}

/** Rotates the minion's key: see the steps above. Throws a BrineError with what to do when it cannot. */
export async function rotateMinionKey(config: MinionConfig, log: Logger = roleLogger(config, 'cli')): Promise<RotationOutcome> {
  const current = loadMinionIdentity(config.id, config.pki_dir, keyProtection(config));
  const old = fingerprint(current.publicKey);
  const pending =
    loadPendingMinionKey(config.pki_dir, keyProtection(config)) ?? createPendingMinionKey(config.pki_dir, keyProtection(config));
  const next = fingerprint(pending.publicKey);
  try {
    const proof = minionKeyProof(pending, pinnedMasterBox(config), config.id, current.publicKey);
    const ctx = openMinionContext(config, 'cli', log);
    let asked: unknown;
    try {
      await ctx.channel.request('key.rotate', {
        public: Buffer.from(pending.publicKey).toString('base64'),
        proof: Buffer.from(proof).toString('base64'),
      });
    } catch (err) {
      asked = err;
    } finally {
      ctx.channel.close();
    }
    if (asked === undefined) {
      installPendingMinionKey(config.pki_dir, keyProtection(config));
      return { old, new: next, resumed: false };
    }
    // The answer was lost, or the current key is refused: has the master moved already (an earlier try)?
    if ((await accepts(config, log, pending)) === true) {
      installPendingMinionKey(config.pki_dir, keyProtection(config));
      return { old, new: next, resumed: true };
    }
    const code = asked instanceof BrineError ? asked.code : 'key_not_rotated';
    if (code === 'bad_proof' || code === 'unknown_operation') dropPendingMinionKey(config.pki_dir);
    throw new BrineError(
      code,
      `the master did not accept the new key: ${(asked as Error).message}; the current key (${old}) stays${
        code === 'bad_proof' || code === 'unknown_operation'
          ? ''
          : `, and the new one (${next}) is kept to be offered again by the next minion rotate-key`
      }`,
    );
  } finally {
    pending.destroy();
  }
}
