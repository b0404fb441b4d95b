import { chownSync, closeSync, existsSync, fsyncSync, openSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { BrineError } from '@brine/common';
import { findCiphertexts, readPillarTexts, replaceCiphertexts } from '@brine/states';
import {
  ciphertextKeyId,
  encryptValue,
  openValue,
  PillarCiphertextError,
  type PillarKey,
  pillarKeyId,
  pillarKeyPaths,
  readPillarKey,
  writeNewPillarKey,
} from './pillar-crypto.js';

export interface RekeyResult {
  /** The key the values are sealed to now. */
  keyId: string;
  /** The key that is gone (undefined when there was none, or a re-run found it already replaced). */
  oldKeyId: string | undefined;
  /** Files rewritten, and how many values in all were sealed again. */
  files: string[];
  values: number;
}

/**
 * `master secret rekey`: seals every `!encrypted` value under `roots` to a new pillar key, then
 * makes it the pillar key; the old one is gone (its secret file replaced). Each value keeps its
 * binding (path, minion). Every value is opened before any file is written, so a value that does
 * not open stops the rekey with nothing changed. Each file is replaced whole (temp file, fsync,
 * rename; mode and owner kept), every byte but the ciphertexts as it was. The new key waits in
 * pillar.next.key until every file is written: a rekey cut short leaves each value sealed to the
 * old key or the new one, both of which the running master holds, and running it again finishes.
 */
export function rekeyPillar(roots: readonly string[], pkiDir: string): RekeyResult {
  const p = pillarKeyPaths(pkiDir);
  const current = existsSync(p.secret) ? readPillarKey(p.secret, p.pub) : undefined;
  if (!existsSync(p.nextSecret)) writeNewPillarKey(p.nextSecret, p.nextPub);
  const next = readPillarKey(p.nextSecret, p.nextPub);
  const nextId = pillarKeyId(next.publicKey);
  const keys = new Map<string, PillarKey>([[nextId, next]]);
  if (current) keys.set(pillarKeyId(current.publicKey), current);
  try {
    const changed: { file: string; text: string }[] = [];
    const problems: string[] = [];
    let values = 0;
    for (const { file, text } of readPillarTexts(roots)) {
      const found = findCiphertexts(text);
      if (found.every((c) => sealedTo(c.ciphertext) === nextId)) continue;
      const rewritten = replaceCiphertexts(text, ({ line, ciphertext }) => {
        if (sealedTo(ciphertext) === nextId) return ciphertext;
        try {
          const opened = openValue(ciphertext, (id) => keys.get(id));
          try {
            values++;
            return encryptValue(opened.value, opened.binding, next.publicKey);
          } finally {
            opened.value.fill(0);
          }
        } catch (err) {
          if (!(err instanceof PillarCiphertextError)) throw err;
          problems.push(`${file}:${line}: ${err.message}`);
          return ciphertext;
        }
      });
      changed.push({ file, text: rewritten });
    }
    if (problems.length > 0) {
      throw new BrineError(
        'pillar_decrypt_failed',
        `nothing was changed: these values do not open with the pillar key:\n${problems.join('\n')}\nfix or remove them, then run master secret rekey again`,
      );
    }
    for (const { file, text } of changed) replaceFile(file, text);
    renameSync(p.nextPub, p.pub);
    renameSync(p.nextSecret, p.plainSecret);
    const oldKeyId = current && pillarKeyId(current.publicKey);
    return { keyId: nextId, oldKeyId: oldKeyId === nextId ? undefined : oldKeyId, files: changed.map((c) => c.file), values };
  } finally {
    for (const key of keys.values()) key.secretKey.fill(0);
  }
}

/** The key id a ciphertext names; '' for one too damaged to say (opening it then fails with why). */
function sealedTo(ciphertext: string): string {
  try {
    return ciphertextKeyId(ciphertext);
  } catch {
    return '';
  }
}

/** Replaces a file atomically, keeping its mode and (when this process may) its owner. */
function replaceFile(file: string, text: string): void {
  const st = statSync(file);
  const tmp = `${dirname(file)}/.${file.slice(dirname(file).length + 1)}.rekey-${process.pid}`;
  const fd = openSync(tmp, 'wx', st.mode & 0o7777);
  try {
    writeSync(fd, Buffer.from(text));
    fsyncSync(fd);
  } catch (err) {
    closeSync(fd);
    rmSync(tmp, { force: true });
    throw err;
  }
  closeSync(fd);
  if (process.getuid?.() === 0) chownSync(tmp, st.uid, st.gid);
  renameSync(tmp, file);
}
