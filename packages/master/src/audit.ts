import { createWriteStream, type WriteStream } from 'node:fs';
import { dirname } from 'node:path';
import { BrineError, ensurePrivateDir } from '@brine/common';

/** Every event the audit log knows. Deliveries and refusals both appear. */
export type AuditEvent =
  | 'master_start'
  | 'pillar_delivered'
  | 'pillar_withheld'
  /** An `!encrypted` value that did not open for the minion asking (bound elsewhere, another key, damaged). */
  | 'pillar_decrypt_refused'
  | 'session_opened'
  | 'key_pending'
  | 'key_auto_accepted'
  | 'refused_pending'
  | 'refused_rejected'
  | 'refused_denied'
  | 'refused_revoked'
  /** A minion served from outside its networks (minion_networks, or its key's own). */
  | 'refused_network'
  /** A cluster master cut off from etcd past stale_max (docs/SECURITY.md). */
  | 'refused_cluster_stale'
  /** A session closed because its key was rejected or deleted (on any master of a cluster). */
  | 'session_revoked'
  /** A cluster master lost, or regained, a current view of the keys in etcd. */
  | 'cluster_stale'
  | 'cluster_current'
  /** This cluster master compiles a minion's pillar differently from a peer (hashes compared, never values), or no longer does. */
  | 'pillar_diverged'
  | 'pillar_converged'
  | 'refused_unknown_session'
  | 'refused_bad_frame'
  | 'refused_too_large'
  | 'refused_replay'
  | 'refused_tampered'
  | 'refused_cookie'
  | 'refused_bad_request'
  | 'refused_bad_key'
  | 'refused_unbound_peer'
  | 'refused_connection'
  | 'refused_key_limit'
  /** A new key the store could not record (a cluster master that cannot write to etcd). */
  | 'refused_key_unrecorded'
  | 'refused_internal'
  | 'pillar_render_failed'
  | 'job_published'
  /** Written by the `master keys` CLI itself, into the same file. */
  | 'key_accepted'
  | 'key_rejected'
  | 'key_deleted'
  /** Written by `master secret`: a value opened by hand (break-glass), and a rekey. */
  | 'secret_decrypted'
  | 'secret_rekeyed'
  /** Master key rotation: a period began, a minion that pinned the old key got the statement, the period ended. */
  | 'master_rotation_started'
  | 'master_rotation_offered'
  | 'master_rotation_finished'
  /** A HELLO pinned the identity a finished rotation retired: the minion missed the period. */
  | 'refused_retired_master_key'
  /** `minion rotate-key`: the accepted key of a minion replaced by the new one it proved (reason: old -> new). */
  | 'key_rotated'
  | 'refused_key_rotation'
  | 'suppressed';

export interface AuditRecord {
  event: AuditEvent;
  minion?: string;
  fingerprint?: string;
  peer?: string;
  /** Operation and pillar path asked for; never a value. */
  op?: string;
  path?: string;
  /** A value fetched raw by name: whether the pillar marks it `!secret` (false: it also travels in the rendering pillar). */
  secret?: boolean;
  /** The minion id the pillar was compiled for (always the authenticated `minion`; recorded to prove it). */
  rendered_for?: string;
  reason?: string;
  count?: number;
  /** Who gave the command (key actions, published jobs): see operator.ts. */
  user?: string;
  uid?: number;
  sudo_user?: string;
  /** `control_socket`: written by the master for an operator who could not append to the log (a sock_group member). */
  via?: 'control_socket';
}

/** Refusal lines one peer and reason may write per window; the rest are counted. */
const BURST = 10;
/** Refusal lines all peers together may write per window: the log's growth under attack is bounded. */
const GLOBAL_BURST = 200;
const WINDOW_MS = 10_000;
/** Peer/reason pairs tracked at once; past this, new pairs share one tally per reason. */
const MAX_TRACKED = 10_000;
/** `suppressed` lines per window; past this, the rest are summed into one line. */
const MAX_SUPPRESSED_LINES = 50;

interface Tally {
  /** Refusals seen this window, and how many of them were written. */
  seen: number;
  written: number;
  peer: string;
  event: AuditEvent;
}

/**
 * Append-only JSON-lines audit trail. Records carry names, never values.
 * Deliveries, sessions and key events are always written. Refusals (anything a
 * peer can provoke at will) are rate-limited: per peer and reason a burst per
 * window, then a count; over all peers a global burst per window, so a flood
 * from many addresses cannot fill the disk either. What was not written comes
 * out once per window as `suppressed` records with counts: nothing goes unrecorded.
 */
export class AuditLog {
  private readonly out: WriteStream;
  private readonly tallies = new Map<string, Tally>();
  private windowEnds: number;
  private writtenThisWindow = 0;
  private readonly timer: NodeJS.Timeout;
  /** Lines waiting for the end of this turn of the event loop: one write for a whole burst. */
  private pending: string[] = [];

  constructor(
    file: string,
    private readonly now: () => number = Date.now,
  ) {
    ensurePrivateDir(dirname(file));
    this.out = createWriteStream(file, { flags: 'a', mode: 0o600 });
    this.windowEnds = this.now() + WINDOW_MS;
    this.timer = setInterval(() => this.rollWindow(), WINDOW_MS).unref();
  }

  write(record: AuditRecord): void {
    if (this.pending.length === 0) setImmediate(() => this.flush());
    this.pending.push(`${JSON.stringify({ time: new Date(this.now()).toISOString(), ...record })}\n`);
  }

  private flush(): void {
    if (this.pending.length === 0) return;
    this.out.write(this.pending.join(''));
    this.pending = [];
  }

  /** A refusal: written within the per-peer and global bursts, counted beyond them. */
  refuse(record: AuditRecord): void {
    if (this.now() >= this.windowEnds) this.rollWindow();
    const peer = record.peer ?? '?';
    let key = `${peer}|${record.event}`;
    let tally = this.tallies.get(key);
    if (!tally && this.tallies.size >= MAX_TRACKED) {
      key = `*|${record.event}`;
      tally = this.tallies.get(key);
    }
    if (!tally) this.tallies.set(key, (tally = { seen: 0, written: 0, peer: key.startsWith('*|') ? '*' : peer, event: record.event }));
    tally.seen++;
    if (tally.written < BURST && this.writtenThisWindow < GLOBAL_BURST) {
      tally.written++;
      this.writtenThisWindow++;
      this.write(record);
    }
  }

  /** Ends the window: one `suppressed` line per peer and reason that went over (summed past a cap). */
  private rollWindow(): void {
    const over = [...this.tallies.values()].filter((t) => t.seen > t.written);
    over.sort((a, b) => b.seen - b.written - (a.seen - a.written));
    for (const t of over.slice(0, MAX_SUPPRESSED_LINES))
      this.write({ event: 'suppressed', peer: t.peer, reason: t.event, count: t.seen - t.written });
    const rest = over.slice(MAX_SUPPRESSED_LINES);
    if (rest.length > 0) {
      const count = rest.reduce((n, t) => n + t.seen - t.written, 0);
      this.write({ event: 'suppressed', peer: '*', reason: `${rest.length} more peer/reason pairs`, count });
    }
    this.tallies.clear();
    this.writtenThisWindow = 0;
    this.windowEnds = this.now() + WINDOW_MS;
  }

  /**
   * An audit log open for appending, or a BrineError saying why it cannot be: for
   * a short-lived writer (the `master keys` CLI) that must not act unaudited.
   */
  static async open(file: string): Promise<AuditLog> {
    const unwritable = (err: unknown) =>
      new BrineError('audit_log_unwritable', `cannot append to the audit log ${file}: ${(err as Error).message}`);
    let log: AuditLog;
    try {
      log = new AuditLog(file);
    } catch (err) {
      throw unwritable(err);
    }
    await new Promise<void>((resolve, reject) => {
      log.out.once('ready', resolve);
      log.out.once('error', (err) => reject(unwritable(err)));
    });
    return log;
  }

  close(): Promise<void> {
    clearInterval(this.timer);
    this.rollWindow();
    this.flush();
    return new Promise((done) => this.out.end(done));
  }
}
