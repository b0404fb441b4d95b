import { readdirSync, readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { ensurePrivateDir, writeFileAtomicAsync, type Logger } from '@brine/common';
import type { Json } from '@brine/protocol';

export interface PendingReturn {
  jid: string;
  fun: string;
  success: boolean;
  ret: Json;
}

const RETURN_FILE = /^\d{20}\.json$/;

/**
 * Job returns not yet acknowledged by the master, kept on disk (0600) so that a
 * master restart, or a minion restart, does not lose them. Returns hold no
 * secrets: the state engine redacts pillar values before a return is built.
 *
 * A return is sent while its file is still being written, not after: the write
 * (an fsync) runs off the event loop, and a return is lost only if the minion
 * dies before that write lands, as it was when the write came first.
 */
export class ReturnStore {
  private readonly dir: string;
  /** Unacknowledged returns, oldest first, each with its write to disk. */
  private readonly waiting = new Map<string, { ret: PendingReturn; saved: Promise<void> }>();

  constructor(
    cachedir: string,
    private readonly log: Logger,
  ) {
    this.dir = join(cachedir, 'returns');
    ensurePrivateDir(this.dir);
    // Job ids sort by time, so a minion restart keeps the order returns were made in.
    for (const file of readdirSync(this.dir).filter((f) => RETURN_FILE.test(f)).sort()) {
      const ret = JSON.parse(readFileSync(join(this.dir, file), 'utf8')) as PendingReturn;
      this.waiting.set(ret.jid, { ret, saved: Promise.resolve() });
    }
  }

  /** Keeps a return until the master has it; on disk too unless `durable` is false. */
  add(ret: PendingReturn, durable = true): void {
    const saved = durable
      ? writeFileAtomicAsync(this.file(ret.jid), JSON.stringify(ret)).catch((err: Error) => {
          this.log.error({ jid: ret.jid, err: err.message }, 'could not save a job return on disk; it is kept in memory until the master has it');
        })
      : Promise.resolve();
    this.waiting.set(ret.jid, { ret, saved });
  }

  /** Oldest first. */
  pending(): PendingReturn[] {
    return Array.from(this.waiting.values(), (w) => w.ret);
  }

  /** Forgets an acknowledged return; its file goes once its write has landed. */
  remove(jid: string): Promise<void> {
    const entry = this.waiting.get(jid);
    if (!entry) return Promise.resolve();
    this.waiting.delete(jid);
    return entry.saved
      .then(() => rm(this.file(jid), { force: true }))
      .catch((err: Error) => this.log.warn({ jid, err: err.message }, 'could not remove an acknowledged job return'));
  }

  /** Settles when every return added so far is on disk (or failed to get there). */
  async saved(): Promise<void> {
    await Promise.all(Array.from(this.waiting.values(), (w) => w.saved));
  }

  private file(jid: string): string {
    return join(this.dir, `${jid}.json`);
  }
}
