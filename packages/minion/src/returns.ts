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

/** An unacknowledged durable return goes to disk after this long. */
export const PERSIST_AFTER_MS = 1_000;

interface Entry {
  ret: PendingReturn;
  durable: boolean;
  /** Its write to disk, once started. */
  saved?: Promise<void>;
  timer?: NodeJS.Timeout;
}

/**
 * Job returns not yet acknowledged by the master, kept so that a master restart,
 * or a minion restart, does not lose them. Returns hold no secrets: the state
 * engine redacts pillar values before a return is built.
 *
 * The master acknowledges a return only once it is on the master's disk, usually
 * within milliseconds; writing and fsyncing every return here as well cost a
 * minion more CPU per job than running its states. So a return is written (0600)
 * only when it is still unacknowledged after PERSIST_AFTER_MS, when delivery
 * fails, or when the minion stops: it is lost only if the minion dies within
 * that second while the master has not yet taken it.
 */
export class ReturnStore {
  private readonly dir: string;
  /** Unacknowledged returns, oldest first. */
  private readonly waiting = new Map<string, Entry>();

  constructor(
    cachedir: string,
    private readonly log: Logger,
    private readonly persistAfterMs = PERSIST_AFTER_MS,
  ) {
    this.dir = join(cachedir, 'returns');
    ensurePrivateDir(this.dir);
    // Job ids sort by time, so a minion restart keeps the order returns were made in.
    for (const file of readdirSync(this.dir)
      .filter((f) => RETURN_FILE.test(f))
      .sort()) {
      const ret = JSON.parse(readFileSync(join(this.dir, file), 'utf8')) as PendingReturn;
      this.waiting.set(ret.jid, { ret, durable: true, saved: Promise.resolve() });
    }
  }

  /** Keeps a return until the master has it; `durable` ones go to disk unless acknowledged soon. */
  add(ret: PendingReturn, durable = true): void {
    const entry: Entry = { ret, durable };
    if (durable) entry.timer = setTimeout(() => this.persist(entry), this.persistAfterMs).unref();
    this.waiting.set(ret.jid, entry);
  }

  /** Oldest first. */
  pending(): PendingReturn[] {
    return Array.from(this.waiting.values(), (w) => w.ret);
  }

  /** Forgets an acknowledged return; a file written for it goes once its write has landed. */
  remove(jid: string): Promise<void> {
    const entry = this.waiting.get(jid);
    if (!entry) return Promise.resolve();
    this.waiting.delete(jid);
    clearTimeout(entry.timer);
    if (!entry.saved) return Promise.resolve();
    return entry.saved
      .then(() => rm(this.file(jid), { force: true }))
      .catch((err: Error) => this.log.warn({ jid, err: err.message }, 'could not remove an acknowledged job return'));
  }

  /** Writes every durable return not on disk yet, and settles when all of them are (or failed to get there). */
  async saveAll(): Promise<void> {
    await Promise.all(Array.from(this.waiting.values(), (entry) => this.persist(entry)));
  }

  private persist(entry: Entry): Promise<void> {
    clearTimeout(entry.timer);
    if (!entry.durable) return Promise.resolve();
    const { jid } = entry.ret;
    entry.saved ??= writeFileAtomicAsync(this.file(jid), JSON.stringify(entry.ret)).catch((err: Error) => {
      this.log.error({ jid, err: err.message }, 'could not save a job return on disk; it is kept in memory until the master has it');
    });
    return entry.saved;
  }

  private file(jid: string): string {
    return join(this.dir, `${jid}.json`);
  }
}
