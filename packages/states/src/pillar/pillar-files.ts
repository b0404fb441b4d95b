import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** A pillar file as text: for the scans that read the tree as the operator wrote it, not as rendered. */
export interface PillarText {
  /** Path under its root, as the top file's SLS names map onto it. */
  name: string;
  file: string;
  text: string;
}

/** Every `.sls` and `.jinja` file under the roots, sorted by name in each root; unreadable ones are skipped. */
export function readPillarTexts(roots: readonly string[]): PillarText[] {
  const out: PillarText[] = [];
  for (const root of roots) {
    let names: string[];
    try {
      names = readdirSync(root, { recursive: true, encoding: 'utf8' })
        .filter((n) => /\.(sls|jinja)$/.test(n))
        .sort();
    } catch {
      continue;
    }
    for (const name of names) {
      const file = join(root, name);
      try {
        out.push({ name, file, text: readFileSync(file, 'utf8') });
      } catch {
        // A directory named like a file, or one the master cannot read: nothing to scan.
      }
    }
  }
  return out;
}
