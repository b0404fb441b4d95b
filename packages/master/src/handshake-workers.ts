import { Worker } from 'node:worker_threads';
import type { KeyObject } from 'node:crypto';
import {
  authSecrets,
  ProtocolError,
  type AuthOffload,
  type AuthSecrets,
  type AuthWork,
  type Prekey,
  type ProtocolErrorCode,
} from '@brine/protocol';

/** Main thread -> worker. */
export type ToWorker =
  | { t: 'prekey'; id: string; key: { secret: KeyObject; publicKey: Uint8Array } }
  | { t: 'forget'; id: string }
  | { t: 'jobs'; jobs: (AuthWork & { seq: number; prekey: string })[] };

/** Worker -> main thread, one per job: `secrets` is ee (32 bytes) then se when there is one. */
export type Done =
  | { seq: number; id: string; minionPublic: Uint8Array; secrets: ArrayBuffer; error?: undefined }
  | { seq: number; error: { code: ProtocolErrorCode | undefined; message: string } };

interface Lane {
  worker: Worker;
  /** When it started, and whether it answered since: one that dies young and silent failed to load. */
  started: number;
  answered: boolean;
  /** Prekeys this worker holds a copy of. */
  prekeys: Set<string>;
  batch: (AuthWork & { seq: number; prekey: string })[];
  waiting: Map<number, { resolve: (s: AuthSecrets) => void; reject: (e: Error) => void }>;
}

/** A worker that exits this young without having answered is taken to have failed to start. */
const YOUNG_MS = 5_000;
const FAILED_STARTS = 3;

const hex = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
const copy = (b: Uint8Array) => Uint8Array.prototype.slice.call(b);

/**
 * Worker threads for the X25519 work of the master's handshakes (`handshake_workers`),
 * so it runs on the machine's other cores while the main thread keeps the socket, the
 * sessions and the sealing. AUTHs received in one turn of the event loop go to the
 * workers in one message each (round robin), so the messaging costs little per handshake.
 *
 * Secrets across the thread boundary: a prekey's secret goes as a native key object (never
 * as bytes in JavaScript) and each worker drops it when the ring erases it here (`forget`);
 * the shared secrets come back in a buffer moved to this thread, zeroed here once the
 * session keys are derived, as on the inline path.
 */
export class HandshakeWorkers implements AuthOffload {
  private readonly lanes: Lane[] = [];
  private next = 0;
  private seq = 0;
  private flushing = false;
  /** Handshakes whose X25519 work a worker did (the master's status). */
  served = 0;
  /** Workers in a row that died young without answering: past FAILED_STARTS, none is started again. */
  private failedStarts = 0;

  constructor(
    count: number,
    private readonly onError: (err: Error) => void = () => {},
    private readonly script: URL = new URL('./handshake-worker.js', import.meta.url),
  ) {
    for (let i = 0; i < count; i++) this.lanes.push(this.spawn());
  }

  run(prekey: Prekey, work: AuthWork): Promise<AuthSecrets> {
    // No worker left (they failed to start): the work is done here, as with handshake_workers 0.
    if (this.lanes.length === 0) {
      try {
        return Promise.resolve(authSecrets(prekey.key, work));
      } catch (err) {
        return Promise.reject(err as Error);
      }
    }
    const lane = this.lanes[this.next++ % this.lanes.length]!;
    const id = hex(prekey.id);
    if (!lane.prekeys.has(id)) {
      lane.worker.postMessage({ t: 'prekey', id, key: prekey.key.forWorker() } satisfies ToWorker);
      lane.prekeys.add(id);
    }
    const seq = this.seq++;
    // Copies: a view would carry its whole underlying buffer (the received frame) across.
    lane.batch.push({
      seq,
      prekey: id,
      clientEphemeral: copy(work.clientEphemeral),
      transcript: copy(work.transcript),
      sealedIdentity: copy(work.sealedIdentity),
    });
    if (!this.flushing) {
      this.flushing = true;
      setImmediate(() => this.flush());
    }
    return new Promise((resolve, reject) => lane.waiting.set(seq, { resolve, reject }));
  }

  /** The ring erased a prekey: every worker's copy goes too. */
  forget(prekeyId: Uint8Array): void {
    const id = hex(prekeyId);
    for (const lane of this.lanes) {
      if (lane.prekeys.delete(id)) lane.worker.postMessage({ t: 'forget', id } satisfies ToWorker);
    }
  }

  async close(): Promise<void> {
    const lanes = this.lanes.splice(0);
    await Promise.all(lanes.map((l) => l.worker.terminate()));
  }

  private flush(): void {
    this.flushing = false;
    for (const lane of this.lanes) {
      if (lane.batch.length === 0) continue;
      lane.worker.postMessage({ t: 'jobs', jobs: lane.batch } satisfies ToWorker);
      lane.batch = [];
    }
  }

  private spawn(): Lane {
    const worker = new Worker(this.script);
    worker.unref();
    const lane: Lane = { worker, started: Date.now(), answered: false, prekeys: new Set(), batch: [], waiting: new Map() };
    worker.on('message', (done: Done[]) => {
      lane.answered = true;
      for (const d of done) {
        const waiter = lane.waiting.get(d.seq);
        if (!waiter) continue;
        lane.waiting.delete(d.seq);
        if (d.error) {
          const { code, message } = d.error;
          waiter.reject(code ? new ProtocolError(code, message) : new Error(message));
          continue;
        }
        this.served++;
        const ee = new Uint8Array(d.secrets, 0, 32);
        const se = d.secrets.byteLength === 64 ? new Uint8Array(d.secrets, 32, 32) : undefined;
        waiter.resolve({ id: d.id, minionPublic: d.minionPublic, ee, se });
      }
    });
    // A worker that dies fails its handshakes (the minions retry) and is replaced; workers that
    // cannot even start (a broken install) are not restarted in a loop: the work stays here.
    worker.on('error', (err) => this.onError(err));
    worker.on('exit', () => {
      for (const w of lane.waiting.values()) w.reject(new Error('handshake worker exited'));
      const i = this.lanes.indexOf(lane);
      if (i < 0) return;
      const failed = !lane.answered && Date.now() - lane.started < YOUNG_MS;
      this.failedStarts = failed ? this.failedStarts + 1 : 0;
      if (this.failedStarts < FAILED_STARTS) this.lanes[i] = this.spawn();
      else {
        this.lanes.splice(i, 1);
        if (this.lanes.length === 0) this.onError(new Error('handshake workers fail to start: handshakes run on the main thread'));
      }
    });
    return lane;
  }
}
