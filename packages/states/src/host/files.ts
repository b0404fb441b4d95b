import { readFile } from 'node:fs/promises';
import { isAbsolute, join, normalize } from 'node:path';
import { existsSync } from 'node:fs';
import { BrineError } from '@brine/common';

/** Where `source:` files come from: `salt://path` in the file roots, or an absolute local path. */
export interface FileServer {
  read(source: string): Promise<Buffer>;
}

export class SourceNotFoundError extends BrineError {
  constructor(
    readonly source: string,
    where: string,
  ) {
    super('source_not_found', `source file '${source}' not found (${where})`);
  }
}

/** The local file a source names: `salt://path` in the first of `roots` that has it, or an absolute path. */
export function sourcePath(roots: readonly string[], source: string): string {
  if (source.startsWith('salt://')) {
    const rel = normalize(source.slice('salt://'.length));
    if (rel.startsWith('..') || isAbsolute(rel)) throw new SourceNotFoundError(source, 'the path leaves the file roots');
    const file = roots.map((root) => join(root, rel)).find((f) => existsSync(f));
    if (!file) throw new SourceNotFoundError(source, `looked in ${roots.join(', ')}`);
    return file;
  }
  if (!isAbsolute(source)) throw new SourceNotFoundError(source, 'use salt://<path> or an absolute path');
  if (!existsSync(source)) throw new SourceNotFoundError(source, 'no such file');
  return source;
}

/** The file roots of this minion, as `salt-call --local` serves them. */
export function localFileServer(roots: readonly string[]): FileServer {
  return { read: async (source) => readFile(sourcePath(roots, source)) };
}
