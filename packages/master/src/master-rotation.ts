import { chownSync, existsSync, readFileSync, renameSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { BrineError, writeFileAtomic, writeKeyFile } from '@brine/common';
import { fingerprint, generateMasterKeys, signRotation, verifyRotation } from '@brine/protocol';
import {
  currentMasterKeySources,
  loadMasterIdentityAt,
  loadOrCreateMasterIdentity,
  masterKeyPaths,
  type MasterIdentity,
} from './identity.js';

/*
 * Master key rotation on disk (PROTOCOL.md, Master key rotation). pki_dir holds:
 *   master.{sign.key,box.key,pub}       the current key pair; during a period, the OLD one
 *   master.next.{sign.key,box.key,pub}  the new key pair, during a period
 *   master.rotation                     JSON: the statement and the phase (no secret)
 * The rotation file is the commit point: the new keys are on disk (fsynced) before it is
 * written, and nothing announces them before it exists. Phases:
 *   serving    both key pairs are served until not_after
 *   finishing  the period is over: each master.next.X is renamed over master.X (idempotent)
 *   done       master.* is the new pair; the file only remembers the retired fingerprint
 */

export type RotationPhase = 'serving' | 'finishing' | 'done';

export interface RotationRecord {
  phase: RotationPhase;
  /** Fingerprints of the retired and the new identity. */
  old: string;
  new: string;
  not_after: string;
  /** base64 of the 200-byte statement (rotation-statement.ts). */
  statement: string;
  started: string;
}

export const rotationPaths = (pkiDir: string) => ({
  record: join(pkiDir, 'master.rotation'),
  next: masterKeyPaths(pkiDir, 'master.next'),
  current: masterKeyPaths(pkiDir),
});

export class RotationError extends BrineError {}

export function readRotation(pkiDir: string): RotationRecord | undefined {
  const path = rotationPaths(pkiDir).record;
  if (!existsSync(path)) return undefined;
  let rec: RotationRecord;
  try {
    rec = JSON.parse(readFileSync(path, 'utf8')) as RotationRecord;
  } catch (err) {
    throw new RotationError(
      'rotation_file_invalid',
      `${path}: not JSON (${(err as Error).message}); restore it from the master it was copied from`,
    );
  }
  if (!['serving', 'finishing', 'done'].includes(rec.phase) || typeof rec.statement !== 'string' || Number.isNaN(Date.parse(rec.not_after)))
    throw new RotationError(
      'rotation_file_invalid',
      `${path}: not a master key rotation record; restore it from the master it was copied from`,
    );
  return rec;
}

const writeRecord = (pkiDir: string, rec: RotationRecord) =>
  writeFileAtomic(rotationPaths(pkiDir).record, `${JSON.stringify(rec, null, 2)}\n`, 0o644);

/** The state a master serves from: the current identity, and during a period the old one with its statement. */
export interface MasterKeyState {
  current: MasterIdentity;
  old?: { identity: MasterIdentity; statement: Uint8Array; notAfter: number };
  /** Fingerprint of the identity the last finished rotation retired (to tell its stragglers why). */
  retired?: string;
  record?: RotationRecord;
  created: boolean;
}

/**
 * Starts a rotation: new keys on disk first, then the statement signed by the current key,
 * then the record that makes it real. Refused while another rotation is under way.
 */
export function beginRotation(pkiDir: string, periodMs: number, now = Date.now()): RotationRecord {
  const existing = readRotation(pkiDir);
  if (existing && existing.phase !== 'done')
    throw new RotationError(
      'rotation_in_progress',
      `a master key rotation (${existing.old} -> ${existing.new}) runs until ${existing.not_after}; start the next one after it ends`,
    );
  if (!Number.isSafeInteger(periodMs) || periodMs < 1000) throw new RotationError('bad_period', 'the rotation period must be at least 1s');
  const { identity: old } = loadOrCreateMasterIdentity(pkiDir);
  const fresh = generateMasterKeys();
  const next = rotationPaths(pkiDir).next;
  writeKeyFile(next.sign, fresh.signSecret, { secret: true });
  writeKeyFile(next.box, fresh.boxSecret, { secret: true });
  writeKeyFile(next.pub, fresh.identity, { secret: false });
  fresh.signSecret.fill(0);
  fresh.boxSecret.fill(0);
  const notAfter = now + periodMs;
  const statement = signRotation(old.sign, old.identity, fresh.identity, notAfter);
  const rec: RotationRecord = {
    phase: 'serving',
    old: old.fingerprint,
    new: fingerprint(fresh.identity),
    not_after: new Date(notAfter).toISOString(),
    statement: Buffer.from(statement).toString('base64'),
    started: new Date(now).toISOString(),
  };
  writeRecord(pkiDir, rec);
  // Made by root (`sudo master keys rotate-master`): the master's user, pki_dir's owner, must read them.
  if (process.getuid?.() === 0) {
    const owner = statSync(pkiDir);
    for (const path of [next.sign, next.box, next.pub, rotationPaths(pkiDir).record]) chownSync(path, owner.uid, owner.gid);
  }
  return rec;
}

/** `30s`, `15m`, `12h`, `7d` in milliseconds; undefined when it is none of these. */
export function parsePeriod(text: string): number | undefined {
  const m = /^(\d+)([smhd])$/.exec(text.trim());
  if (!m) return undefined;
  return Number(m[1]) * { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as 's' | 'm' | 'h' | 'd'];
}

/**
 * Ends a period on disk: records `finishing`, renames each new key file over the old one
 * (a crash between renames is finished by the next call: a master.next.X that is gone was
 * already renamed), then records `done`. The old secret key files are gone after it.
 */
export function finishRotation(pkiDir: string, rec: RotationRecord): RotationRecord {
  if (rec.phase === 'done') return rec;
  if (rec.phase === 'serving') writeRecord(pkiDir, (rec = { ...rec, phase: 'finishing' }));
  const { next, current } = rotationPaths(pkiDir);
  for (const k of ['sign', 'box', 'pub'] as const) if (existsSync(next[k])) renameSync(next[k], current[k]);
  const done: RotationRecord = { ...rec, phase: 'done' };
  writeRecord(pkiDir, done);
  return done;
}

/**
 * The keys to serve now, finishing a period that ended while the master was down.
 * Checks that the files agree with the statement, so a half-copied pki_dir fails loudly.
 */
export function loadMasterKeyState(pkiDir: string, now = Date.now()): MasterKeyState {
  let rec = readRotation(pkiDir);
  if (rec && (rec.phase === 'finishing' || (rec.phase === 'serving' && now >= Date.parse(rec.not_after))))
    rec = finishRotation(pkiDir, rec);
  if (!rec || rec.phase === 'done') {
    const { identity, created } = loadOrCreateMasterIdentity(pkiDir);
    if (rec && identity.fingerprint !== rec.new)
      throw new RotationError(
        'rotation_file_mismatch',
        `${rotationPaths(pkiDir).record} says the current master key is ${rec.new}, but ${pkiDir} holds ${identity.fingerprint}; copy the key files and master.rotation from the same master`,
      );
    return { current: identity, created, ...(rec && { retired: rec.old, record: rec }) };
  }
  const paths = rotationPaths(pkiDir);
  const old = loadMasterIdentityAt(currentMasterKeySources(pkiDir));
  const current = loadMasterIdentityAt(paths.next);
  const statement = new Uint8Array(Buffer.from(rec.statement, 'base64'));
  const st = verifyRotation(statement, old.identity, undefined);
  if (!Buffer.from(st.newIdentity).equals(current.identity))
    throw new RotationError(
      'rotation_file_mismatch',
      `the rotation statement in ${paths.record} vouches for ${fingerprint(st.newIdentity)}, but ${paths.next.pub} is ${current.fingerprint}; copy master.next.* and master.rotation from the same master`,
    );
  return { current, old: { identity: old, statement, notAfter: st.notAfter }, record: rec, created: false };
}

/**
 * Distinct minions the audit log records as given the statement since `started` (ISO time):
 * how many have moved, or are moving, to the new key. Undefined when the log cannot be read.
 */
export function offeredSince(auditLog: string, started: string): number | undefined {
  let text: string;
  try {
    text = readFileSync(auditLog, 'utf8');
  } catch {
    return undefined;
  }
  const minions = new Set<string>();
  for (const line of text.split('\n')) {
    if (!line.includes('"master_rotation_offered"')) continue;
    try {
      const r = JSON.parse(line) as { event?: string; time?: string; minion?: string };
      if (r.event === 'master_rotation_offered' && r.minion && (r.time ?? '') >= started) minions.add(r.minion);
    } catch {
      // A torn last line: skipped.
    }
  }
  return minions.size;
}
