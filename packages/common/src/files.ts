import { closeSync, fsyncSync, mkdirSync, openSync, renameSync, writeSync } from 'node:fs';
import { mkdir, open, rename } from 'node:fs/promises';
import { dirname } from 'node:path';

/** Creates a directory (and parents) that only its owner can enter. */
export function ensurePrivateDir(path: string): void {
  mkdirSync(path, { recursive: true, mode: 0o700 });
}

/**
 * Writes a file so that a crash leaves either the old or the new content, never a
 * torn one, and so that it is never readable by others, not even for a moment.
 */
export function writeFileAtomic(path: string, data: string | Uint8Array, mode = 0o600): void {
  ensurePrivateDir(dirname(path));
  const tmp = tempPath(path);
  const fd = openSync(tmp, 'wx', mode);
  try {
    writeSync(fd, typeof data === 'string' ? Buffer.from(data) : data);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
}

let tempSerial = 0;
const tempPath = (path: string) => `${path}.tmp-${process.pid}-${Date.now()}-${tempSerial++}`;

/**
 * writeFileAtomic off the event loop: for writes on a hot path (one per minion in a boot storm).
 * `durable: false` skips the fsync, most of a small write's cost: for caches whose loss in a
 * crash costs nothing, since a crash may then leave the file empty or as it was (readers must
 * cope); a running system still never sees a torn file.
 */
export async function writeFileAtomicAsync(
  path: string,
  data: string | Uint8Array,
  opts: { mode?: number; durable?: boolean } = {},
): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = tempPath(path);
  const file = await open(tmp, 'wx', opts.mode ?? 0o600);
  try {
    await file.writeFile(data);
    if (opts.durable !== false) await file.sync();
  } finally {
    await file.close();
  }
  await rename(tmp, path);
}
