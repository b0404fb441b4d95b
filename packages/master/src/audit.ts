import { createWriteStream, type WriteStream } from 'node:fs';
import { dirname } from 'node:path';
import { ensurePrivateDir } from '@brine/common';

/** Every event the audit log knows. Deliveries and refusals both appear. */
export type AuditEvent =
  | 'master_start'
  | 'pillar_delivered'
  | 'pillar_withheld'
  | 'session_opened'
  | 'key_pending'
  | 'key_auto_accepted'
  | 'refused_pending'
  | 'refused_rejected'
  | 'refused_denied'
  | 'refused_revoked'
  | 'refused_unknown_session'
  | 'refused_bad_frame'
  | 'refused_too_large'
  | 'refused_replay'
  | 'refused_tampered'
  | 'refused_cookie'
  | 'refused_bad_request'
  | 'pillar_render_failed'
  | 'job_published'
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
}

/** Unauthenticated refusals per peer and event allowed into the log per window; the rest are counted. */
const BURST = 20;
const WINDOW_MS = 10_000;

/**
 * Append-only JSON-lines audit trail. Records carry names, never values. A peer
 * spraying garbage cannot flood the log: past a burst per window its refusals are
 * counted and written once as a `suppressed` record.
 */
export class AuditLog {
  private readonly out: WriteStream;
  private readonly windows = new Map<string, { until: number; count: number; record: AuditRecord }>();
  private readonly timer: NodeJS.Timeout;
  /** Lines waiting for the end of this turn of the event loop: one write for a whole burst. */
  private pending: string[] = [];

  constructor(file: string) {
    ensurePrivateDir(dirname(file));
    this.out = createWriteStream(file, { flags: 'a', mode: 0o600 });
    this.timer = setInterval(() => this.flushWindows(Date.now()), WINDOW_MS).unref();
  }

  write(record: AuditRecord): void {
    if (this.pending.length === 0) setImmediate(() => this.flush());
    this.pending.push(`${JSON.stringify({ time: new Date().toISOString(), ...record })}\n`);
  }

  private flush(): void {
    if (this.pending.length === 0) return;
    this.out.write(this.pending.join(''));
    this.pending = [];
  }

  /** For refusals of peers not yet authenticated: rate-limited per peer and event. */
  refuse(record: AuditRecord): void {
    const key = `${record.peer ?? '?'}|${record.event}`;
    const now = Date.now();
    const w = this.windows.get(key);
    if (!w || now >= w.until) {
      if (w) this.emitSuppressed(w);
      this.windows.set(key, { until: now + WINDOW_MS, count: 1, record });
      this.write(record);
    } else if (++w.count <= BURST) this.write(record);
  }

  private emitSuppressed(w: { count: number; record: AuditRecord }): void {
    if (w.count > BURST) this.write({ event: 'suppressed', peer: w.record.peer, reason: w.record.event, count: w.count - BURST });
  }

  private flushWindows(now: number): void {
    for (const [key, w] of this.windows) {
      if (now >= w.until) {
        this.emitSuppressed(w);
        this.windows.delete(key);
      }
    }
  }

  close(): Promise<void> {
    clearInterval(this.timer);
    this.flushWindows(Infinity);
    this.flush();
    return new Promise((done) => this.out.end(done));
  }
}
