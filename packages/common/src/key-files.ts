import { existsSync, readFileSync, statSync } from 'node:fs';
import { BrineError } from './errors.js';
import { writeFileAtomic } from './files.js';

/** A key file that cannot be used: unreadable, malformed, or open to other users. */
export class KeyFileError extends BrineError {
  constructor(
    readonly path: string,
    detail: string,
  ) {
    super('key_file_invalid', `${path}: ${detail}`);
  }
}

/**
 * Reads a key stored as one line of base64. Secret keys must not be readable by
 * group or others (as ssh insists): a key others could read is treated as leaked.
 */
export function readKeyFile(path: string, bytes: number, opts: { secret: boolean }): Uint8Array {
  let text: string;
  try {
    if (opts.secret && (statSync(path).mode & 0o077) !== 0) {
      throw new KeyFileError(path, 'secret key is accessible by group or others; run `chmod 600` on it (and consider it exposed)');
    }
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if (err instanceof KeyFileError) throw err;
    throw new KeyFileError(path, `cannot read key: ${(err as Error).message}`);
  }
  const key = new Uint8Array(Buffer.from(text.trim(), 'base64'));
  if (key.length !== bytes || Buffer.from(key).toString('base64') !== text.trim()) {
    throw new KeyFileError(path, `not a ${bytes}-byte base64 key`);
  }
  return key;
}

export function writeKeyFile(path: string, key: Uint8Array, opts: { secret: boolean }): void {
  writeFileAtomic(path, `${Buffer.from(key).toString('base64')}\n`, opts.secret ? 0o600 : 0o644);
}

/** Loads a key pair, creating and storing it first if neither half exists yet. */
export function loadOrCreateKeys<T>(paths: string[], load: () => T, create: () => void): { keys: T; created: boolean } {
  const present = paths.filter((p) => existsSync(p));
  if (present.length === 0) {
    create();
    return { keys: load(), created: true };
  }
  if (present.length !== paths.length) {
    const missing = paths.filter((p) => !present.includes(p));
    throw new BrineError(
      'key_files_incomplete',
      `key files incomplete: ${missing.join(', ')} missing while ${present.join(', ')} exist; restore them or remove all to generate new keys`,
    );
  }
  return { keys: load(), created: false };
}
