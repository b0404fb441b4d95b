import { createHash } from 'node:crypto';
import { lstatSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BrineError, byCodePoint } from '@brine/common';

/** The whole tree a minion needs to render and run states, as one transfer. */
export interface StateTreeSnapshot {
  /** SHA-256 over every path and content: a minion holding this hash has the tree. */
  hash: string;
  /** Relative path → file content. */
  files: Map<string, Buffer>;
  bytes: number;
}

/** Trees larger than this are refused: file_roots are for states and templates, not artefacts. */
const MAX_TREE_BYTES = 64 << 20;

/**
 * `file_roots` as minions see it (Salt's fileserver, in one piece): regular files
 * under each root, the first root winning for a path present in several. Hidden
 * entries and symbolic links are left out, so nothing outside a root is served.
 * File contents are cached by path with their stat stamp.
 */
export class StateTree {
  private readonly cache = new Map<string, { stamp: string; data: Buffer }>();

  constructor(private readonly roots: readonly string[]) {}

  snapshot(): StateTreeSnapshot {
    const files = new Map<string, Buffer>();
    let bytes = 0;
    const walk = (root: string, rel: string) => {
      let entries: string[];
      try {
        entries = readdirSync(join(root, rel)).sort();
      } catch {
        return;
      }
      for (const name of entries) {
        if (name.startsWith('.')) continue;
        const path = rel ? `${rel}/${name}` : name;
        const full = join(root, path);
        const st = lstatSync(full, { bigint: true });
        if (st.isDirectory()) walk(root, path);
        else if (st.isFile() && !files.has(path)) {
          const stamp = `${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}`;
          let hit = this.cache.get(full);
          if (!hit || hit.stamp !== stamp) this.cache.set(full, (hit = { stamp, data: readFileSync(full) }));
          bytes += hit.data.length;
          if (bytes > MAX_TREE_BYTES)
            throw new BrineError(
              'state_tree_too_large',
              `file_roots hold more than ${MAX_TREE_BYTES >> 20} MiB; keep large artefacts out of them`,
            );
          files.set(path, hit.data);
        }
      }
    };
    for (const root of this.roots) walk(root, '');
    const h = createHash('sha256');
    for (const [path, data] of [...files].sort(([a], [b]) => byCodePoint(a, b))) {
      h.update(`${path}\0${data.length}\0`);
      h.update(data);
    }
    return { hash: h.digest('hex'), files, bytes };
  }
}
