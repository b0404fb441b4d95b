import { constants, type Stats } from 'node:fs';
import { chmod, chown, lchown, lstat, mkdir, open, readdir, readFile, readlink, rename, rm, stat, symlink, unlink } from 'node:fs/promises';
import { homedir } from 'node:os';

/** What a state needs to know of a path: its kind, permission bits, owner and (for devices) device number. */
export interface FileStat {
  type: 'file' | 'directory' | 'block' | 'symlink' | 'other';
  /** Permission bits only (`mode & 0o7777`). */
  mode: number;
  uid: number;
  gid: number;
  rdev: number;
}

/**
 * The file system as states see it: facts read through it, apply writes through it. Fixture
 * tests replace it, so no state reads or writes the machine's files but through this.
 */
export interface HostFs {
  /** undefined if nothing is there; `follow: false` describes a symlink itself. */
  stat(path: string, opts?: { follow?: boolean }): Promise<FileStat | undefined>;
  /** undefined if the file does not exist. */
  readFile(path: string): Promise<Buffer | undefined>;
  /** Up to `bytes` from the start of a file or device, without reading the rest. */
  readHead(path: string, bytes: number): Promise<Buffer>;
  readdir(path: string): Promise<string[]>;
  /** The home directory of the user the minion runs as. */
  home(): string;
  /** Replaces `path` in one rename, so readers never see half a file; private until owner and mode are set. */
  replaceFile(path: string, content: Buffer, attrs: { mode: number; uid?: number | undefined; gid?: number | undefined }): Promise<void>;
  mkdir(path: string, opts: { recursive: boolean; mode: number }): Promise<void>;
  chown(path: string, uid: number | undefined, gid: number | undefined): Promise<void>;
  chmod(path: string, mode: number): Promise<void>;
  /** Removes a file or a whole directory tree; nothing there is not an error. */
  remove(path: string): Promise<void>;
  /** Where a symlink points, or undefined if `path` is not one. */
  readlink(path: string): Promise<string | undefined>;
  /** Makes `path` a symlink to `target` in one rename, replacing a file or symlink there; owner set before it appears. */
  symlink(target: string, path: string, owner: { uid?: number | undefined; gid?: number | undefined }): Promise<void>;
}

const absent = (err: unknown): boolean => (err as NodeJS.ErrnoException).code === 'ENOENT';

function fileStat(st: Stats): FileStat {
  const type = st.isFile()
    ? 'file'
    : st.isDirectory()
      ? 'directory'
      : st.isBlockDevice()
        ? 'block'
        : st.isSymbolicLink()
          ? 'symlink'
          : 'other';
  return { type, mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, rdev: st.rdev };
}

/** The machine's own file system. */
export const nodeFs: HostFs = {
  async stat(path, opts = {}) {
    try {
      return fileStat(await (opts.follow === false ? lstat(path) : stat(path)));
    } catch (err) {
      if (absent(err)) return undefined;
      throw err;
    }
  },
  async readFile(path) {
    try {
      return await readFile(path);
    } catch (err) {
      if (absent(err)) return undefined;
      throw err;
    }
  },
  async readHead(path, bytes) {
    const head = Buffer.alloc(bytes);
    const file = await open(path, 'r');
    try {
      const { bytesRead } = await file.read(head, 0, bytes, 0);
      return head.subarray(0, bytesRead);
    } finally {
      await file.close();
    }
  },
  readdir: (path) => readdir(path),
  home: () => homedir(),
  async replaceFile(path, content, { mode, uid, gid }) {
    const tmp = `${path}.brine-${process.pid}-${Date.now()}`;
    // Private until owner and mode are set: the content may be a secret.
    const fh = await open(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
    try {
      await fh.writeFile(content);
      if (uid !== undefined || gid !== undefined) await fh.chown(uid ?? -1, gid ?? -1);
      await fh.chmod(mode);
      await fh.sync();
    } catch (err) {
      await fh.close();
      await unlink(tmp).catch(() => undefined);
      throw err;
    }
    await fh.close();
    await rename(tmp, path);
  },
  async mkdir(path, opts) {
    await mkdir(path, opts);
  },
  chown: (path, uid, gid) => chown(path, uid ?? -1, gid ?? -1),
  chmod: (path, mode) => chmod(path, mode),
  remove: (path) => rm(path, { recursive: true, force: true }),
  async readlink(path) {
    try {
      return await readlink(path);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'EINVAL') return undefined;
      throw err;
    }
  },
  async symlink(target, path, { uid, gid }) {
    const tmp = `${path}.brine-${process.pid}-${Date.now()}`;
    await symlink(target, tmp);
    try {
      if (uid !== undefined || gid !== undefined) await lchown(tmp, uid ?? -1, gid ?? -1);
      await rename(tmp, path);
    } catch (err) {
      await unlink(tmp).catch(() => undefined);
      throw err;
    }
  },
};
