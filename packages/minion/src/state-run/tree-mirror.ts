import { existsSync, readdirSync, rmSync } from 'node:fs';
import { dirname, join, normalize, sep } from 'node:path';
import { BrineError, ensurePrivateDir, writeFileAtomic } from '@brine/common';
import type { MasterLink } from '../channel.js';

/**
 * The master's file_roots mirrored into the minion's cache (as Salt keeps
 * /var/cache/salt/minion/files/base), refreshed before each state run: no
 * request when the job names the hash the mirror has, else one request,
 * answered with "unchanged" when the tree's hash matches.
 */
export class StateTreeMirror {
  readonly root: string;
  private hash: string | undefined;

  constructor(
    cachedir: string,
    private readonly channel: MasterLink,
  ) {
    this.root = join(cachedir, 'files', 'base');
  }

  /** The mirrored tree, fetched first unless it already has the hash `expected` (a job's, say). */
  async sync(expected?: string): Promise<string> {
    if (expected !== undefined && expected === this.hash && existsSync(this.root)) return this.root;
    const { value } = await this.channel.request('state.tree', this.hash ? { have: this.hash } : {});
    const reply = value as { hash: string; unchanged?: boolean; files?: Record<string, string> };
    if (reply.unchanged && existsSync(this.root)) return this.root;
    const files = reply.files ?? {};
    ensurePrivateDir(this.root);
    for (const [rel, b64] of Object.entries(files)) writeFileAtomic(this.inside(rel), Buffer.from(b64, 'base64'));
    this.prune(this.root, '', new Set(Object.keys(files)));
    this.hash = reply.hash;
    return this.root;
  }

  /** A path from the master, checked to stay inside the mirror. */
  private inside(rel: string): string {
    const path = normalize(join(this.root, rel));
    if (!path.startsWith(this.root + sep))
      throw new BrineError('bad_state_tree', `master sent a path outside the file roots: ${JSON.stringify(rel)}`);
    ensurePrivateDir(dirname(path));
    return path;
  }

  /** Removes files the master no longer has, so a deleted SLS cannot linger and still run. */
  private prune(dir: string, rel: string, keep: Set<string>): void {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = rel ? `${rel}/${entry.name}` : entry.name;
      if (entry.isDirectory()) {
        this.prune(join(dir, entry.name), path, keep);
        if (readdirSync(join(dir, entry.name)).length === 0) rmSync(join(dir, entry.name), { recursive: true });
      } else if (!keep.has(path)) rmSync(join(dir, entry.name));
    }
  }
}
