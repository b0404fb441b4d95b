import type { FileStat } from '../host/fs.js';
import type { Fact } from './fact.js';

/** A path's kind, mode and owner (symlinks followed), or undefined if nothing is there. */
export const pathStat: Fact<[path: string], FileStat | undefined, FileStat | undefined> = {
  name: 'path.stat',
  read: (host, path) => host.fs.stat(path),
  parse: (st) => st,
};

/** As `pathStat`, but a symlink is described itself. */
export const pathLstat: Fact<[path: string], FileStat | undefined, FileStat | undefined> = {
  name: 'path.lstat',
  read: (host, path) => host.fs.stat(path, { follow: false }),
  parse: (st) => st,
};

/** A file's bytes, or undefined if it does not exist. The caller zeroes them if they may be secret. */
export const fileContent: Fact<[path: string], Buffer | undefined, Buffer | undefined> = {
  name: 'file.content',
  read: (host, path) => host.fs.readFile(path),
  parse: (content) => content,
};

/** The home directory of the user the minion runs as. */
export const minionHome: Fact<[], string, string> = {
  name: 'minion.home',
  read: async (host) => host.fs.home(),
  parse: (home) => home,
};

/** Where a symlink points, or undefined if the path is not a symlink. */
export const linkTarget: Fact<[path: string], string | undefined, string | undefined> = {
  name: 'path.readlink',
  read: (host, path) => host.fs.readlink(path),
  parse: (target) => target,
};
