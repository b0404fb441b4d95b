import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { ensurePrivateDir, writeFileAtomic } from '@brine/common';
import type { Json } from '@brine/protocol';

export interface PendingReturn {
  jid: string;
  fun: string;
  success: boolean;
  ret: Json;
}

/**
 * Job returns not yet acknowledged by the master, kept on disk (0600) so that a
 * master restart, or a minion restart, does not lose them. Returns hold no
 * secrets: the state engine redacts pillar values before a return is built.
 */
export class ReturnStore {
  private readonly dir: string;

  constructor(cachedir: string) {
    this.dir = join(cachedir, 'returns');
    ensurePrivateDir(this.dir);
  }

  add(ret: PendingReturn): void {
    writeFileAtomic(join(this.dir, `${ret.jid}.json`), JSON.stringify(ret));
  }

  /** Oldest first (job ids sort by time). */
  pending(): PendingReturn[] {
    if (!existsSync(this.dir)) return [];
    return readdirSync(this.dir)
      .filter((f) => /^\d{20}\.json$/.test(f))
      .sort()
      .map((f) => JSON.parse(readFileSync(join(this.dir, f), 'utf8')) as PendingReturn);
  }

  remove(jid: string): void {
    rmSync(join(this.dir, `${jid}.json`), { force: true });
  }
}
