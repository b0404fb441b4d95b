import { BrineError, type Logger } from '@brine/common';
import { checkMinionKeyProof, fingerprint, KEY_BYTES, ProtocolError, type Json, type X25519Key } from '@brine/protocol';
import type { AuditLog } from './audit.js';
import type { KeyStore } from './keystore.js';
import type { OpContext, OpResult } from './operations.js';

/** One rotation per minion id this often at most: each costs an X25519 per master key and a key store write. */
const MIN_INTERVAL_MS = 60_000;

const fail = (code: string, message: string): OpResult => ({ error: { code, message } });

const bytesArg = (v: Json | undefined): Uint8Array | undefined => {
  if (typeof v !== 'string' || v.length > 64) return undefined;
  const b = new Uint8Array(Buffer.from(v, 'base64'));
  return b.length === KEY_BYTES && Buffer.from(b).toString('base64') === v ? b : undefined;
};

/**
 * `key.rotate` (`minion rotate-key`): a minion, in a session its current key authenticated,
 * asks the master to accept a new key in its place, with proof it holds the new secret
 * (minion-key-proof.ts). The key store swaps them in one write; the session's key is no longer
 * accepted afterwards, so its sessions close at their next request (or, in a cluster, as the
 * watch reports the change) and the minion comes back with the new key.
 */
export class MinionKeyRotation {
  private readonly last = new Map<string, number>();

  constructor(
    private readonly keys: KeyStore,
    /** The master's X25519 keys the proof may be made for: two during a master key rotation. */
    private readonly boxes: () => readonly X25519Key[],
    private readonly audit: AuditLog,
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  rotate(args: { [key: string]: Json }, ctx: OpContext): OpResult {
    const { session, peer } = ctx;
    const id = session.minionId;
    const next = bytesArg(args['public']);
    const proof = bytesArg(args['proof']);
    if (!next || !proof) return fail('bad_request', "key.rotate: 'public' and 'proof' must be 32 bytes of base64 each");
    const who = { minion: id, fingerprint: session.fingerprint, peer };
    const t = this.now();
    const previous = this.last.get(id);
    if (previous !== undefined && t - previous < MIN_INTERVAL_MS)
      return fail('rate_limited', `key.rotate: one key rotation per ${MIN_INTERVAL_MS / 1000} s per minion; retry later`);
    this.last.set(id, t);
    if (this.last.size > 10_000) for (const [k, at] of this.last) if (t - at >= MIN_INTERVAL_MS) this.last.delete(k);
    if (!this.keys.isAccepted(id, session.minionPublic))
      return fail('key_not_accepted', 'key.rotate: the key of this session is not the accepted key of this minion');
    if (Buffer.from(next).equals(Buffer.from(session.minionPublic)))
      return fail('bad_request', 'key.rotate: the new key is the current one');
    let proven: boolean;
    try {
      proven = checkMinionKeyProof(this.boxes(), next, id, session.minionPublic, proof);
    } catch (err) {
      if (!(err instanceof ProtocolError)) throw err;
      proven = false;
    }
    const reason = `${session.fingerprint} -> ${fingerprint(next)}`;
    if (!proven) {
      this.audit.refuse({ event: 'refused_key_rotation', ...who, reason: `${reason}: proof of the new key does not verify` });
      return fail('bad_proof', 'key.rotate: the proof does not show possession of the new key; nothing was changed');
    }
    // Its answer must reach the minion: the store's own report of the change does not close it first.
    session.rotatingKey = true;
    return {
      later: this.keys.replaceAccepted(id, session.minionPublic, next).then(
        () => {
          this.audit.write({ event: 'key_rotated', ...who, reason });
          this.log.info({ ...who, new: fingerprint(next) }, 'minion rotated its key: the new key is accepted in place of the old');
          return { value: { fingerprint: fingerprint(next) } };
        },
        (err: unknown) => {
          const message = err instanceof BrineError ? err.message : String(err);
          this.audit.refuse({ event: 'refused_key_rotation', ...who, reason: `${reason}: ${message}` });
          return fail(err instanceof BrineError ? err.code : 'key_not_rotated', `key.rotate: ${message}`);
        },
      ),
    };
  }
}
