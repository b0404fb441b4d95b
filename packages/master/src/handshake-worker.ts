import { parentPort } from 'node:worker_threads';
import { authSecrets, ProtocolError, X25519Key, zero } from '@brine/protocol';
import type { Done, ToWorker } from './handshake-workers.js';

/*
 * A handshake worker (handshake-workers.ts): holds copies of the live prekeys and
 * computes the X25519 part of AUTHs in batches. Each result's two shared secrets go
 * back in one buffer that is moved, not copied, to the master's thread; the copies
 * made here are zeroed before the batch is answered.
 */
const port = parentPort;
if (!port) throw new Error('handshake-worker runs as a worker thread');
const prekeys = new Map<string, X25519Key>();

port.on('message', (m: ToWorker) => {
  if (m.t === 'prekey') prekeys.set(m.id, X25519Key.fromWorker(m.key));
  else if (m.t === 'forget') {
    prekeys.get(m.id)?.destroy();
    prekeys.delete(m.id);
  } else {
    const done: Done[] = [];
    const moved: ArrayBuffer[] = [];
    for (const job of m.jobs) {
      try {
        const prekey = prekeys.get(job.prekey);
        if (!prekey) throw new ProtocolError('cookie_invalid', 'cookie does not open (expired prekey or forged)');
        const s = authSecrets(prekey, job);
        const secrets = new Uint8Array(s.se ? 64 : 32);
        secrets.set(s.ee);
        if (s.se) secrets.set(s.se, 32);
        zero(s.ee, s.se);
        done.push({ seq: job.seq, id: s.id, minionPublic: s.minionPublic, secrets: secrets.buffer });
        moved.push(secrets.buffer);
      } catch (err) {
        const e = err as Error;
        done.push({ seq: job.seq, error: { code: err instanceof ProtocolError ? err.code : undefined, message: e.message } });
      }
    }
    port.postMessage(done, moved);
  }
});
