import { readFileSync, statSync } from 'node:fs';

interface Entry<T> {
  stamp: string;
  text: string;
  derived: Map<string, T>;
}

/**
 * File contents plus values derived from them (parsed YAML, say), re-read when the
 * file changes. Freshness is checked with one stat per use against inode, size and
 * nanosecond mtime/ctime, so an edit is seen at once and an untouched file is not
 * re-read or re-parsed.
 */
export class SourceCache<T = unknown> {
  private readonly entries = new Map<string, Entry<T>>();

  read(file: string): { text: string; derive: <U extends T>(kind: string, make: (text: string) => U) => U } {
    const st = statSync(file, { bigint: true });
    const stamp = `${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}`;
    let entry = this.entries.get(file);
    if (!entry || entry.stamp !== stamp) {
      entry = { stamp, text: readFileSync(file, 'utf8'), derived: new Map() };
      this.entries.set(file, entry);
    }
    const current = entry;
    return {
      text: current.text,
      derive: <U extends T>(kind: string, make: (text: string) => U): U => {
        if (current.derived.has(kind)) return current.derived.get(kind) as U;
        const value = make(current.text);
        current.derived.set(kind, value);
        return value;
      },
    };
  }
}
