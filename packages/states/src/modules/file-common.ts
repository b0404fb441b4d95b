import { dirname, isAbsolute, normalize, resolve } from 'node:path';
import { createPatch } from 'diff';
import { linkTarget } from '../facts/files.js';
import type { StateContext } from './types.js';

// What file.managed and the line-editing states (file-edit.ts) share.

/** Text files up to this size get a unified diff in `changes`; larger ones a note. */
const MAX_DIFF_BYTES = 1 << 20;

export function badPath(name: string): string | undefined {
  if (!isAbsolute(name)) return `Specified file ${name} is not an absolute path`;
  return normalize(name) === '/' ? `Refusing to manage "/" itself` : undefined;
}

export const describeDiff = (before: Buffer, after: Buffer, name: string): string => {
  if (before.includes(0) || after.includes(0)) return 'Replace binary file';
  if (before.length > MAX_DIFF_BYTES || after.length > MAX_DIFF_BYTES) return 'Replace text file (too large to show a diff)';
  // Drop jsdiff's "Index:" / "=====" preamble; keep the ---/+++/@@ unified diff.
  return createPatch(name, before.toString('utf8'), after.toString('utf8'), '', '').split('\n').slice(2).join('\n');
};

/** Symlinks followed before giving up, as the kernel's own limit (ELOOP). */
const MAX_LINK_HOPS = 40;

/**
 * Where a file state writes (Salt's follow_symlinks): `name`; or, when `name` is a symlink and
 * `follow` is set, the file its chain of links ends at (which may not exist yet). Without
 * `follow`, a symlink at `name` is to be replaced by the file (`replaceLink`).
 */
export async function managedPath(
  ctx: StateContext,
  name: string,
  follow: boolean,
): Promise<{ path: string; replaceLink: boolean } | string> {
  let path = name;
  for (let hops = 0; hops <= MAX_LINK_HOPS; hops++) {
    const target = await ctx.facts.get(linkTarget, path);
    if (target === undefined) return { path, replaceLink: false };
    if (!follow) return { path, replaceLink: true };
    path = resolve(dirname(path), target);
  }
  return `Too many levels of symbolic links at ${name}`;
}
