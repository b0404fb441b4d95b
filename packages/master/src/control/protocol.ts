import type { Operator } from '@brine/common';
import type { Json } from '@brine/protocol';
import type { MatchType } from '@brine/states';
import type { JobRecord, MinionReturn } from '../jobs/job-store.js';
import type { KeyAction, KeyAuditRecord, KeyChange } from '../key-actions.js';
import type { KeyListing } from '../keystore.js';
import type { MasterCounters, MinionStatus } from '../minion-status.js';

/*
 * The local control socket speaks newline-delimited JSON: the client writes one
 * request line, the master answers with event lines and closes the connection.
 */

export type ControlRequest =
  | { cmd: 'ping'; target: string; tgt_type: MatchType; timeout: number }
  | { cmd: 'apply'; target: string; tgt_type: MatchType; sls: string[]; test: boolean; timeout: number }
  | { cmd: 'grains'; target: string; tgt_type: MatchType }
  | { cmd: 'jobs.list' }
  | { cmd: 'jobs.show'; jid: string }
  /** Every accepted minion's status, or those the target matches. */
  | { cmd: 'status'; target?: string; tgt_type?: MatchType }
  /** A key action of `master keys` by an operator who cannot append to the audit log: the master writes it. */
  | { cmd: 'audit.key'; record: KeyAuditRecord }
  /** `master keys list` of a cluster master: the keys in etcd, as this master sees them. */
  | { cmd: 'keys.list' }
  /** `master keys accept|reject|delete` of a cluster master: applied to etcd, audited by the master. */
  | { cmd: 'keys.change'; action: KeyAction };

export type { KeyAuditRecord };

/**
 * A request as it travels: the client adds who is asking, for the audit log.
 * It is what the client says (Node cannot read SO_PEERCRED), see control/server.ts.
 */
export type WireRequest = ControlRequest & { operator: Operator };

export type ControlEvent =
  /** The job went out: who it is meant for, and who cannot get it. */
  | { type: 'published'; jid: string; minions: string[]; not_connected: string[] }
  | { type: 'return'; ret: MinionReturn }
  /** Sent last for a job: minions that did not return in time, and those that had no session to get it. */
  | { type: 'done'; jid: string; missing: string[]; not_connected: string[] }
  | { type: 'grains'; grains: Record<string, Json | null> }
  | { type: 'jobs'; jobs: JobRecord[] }
  | { type: 'job'; job: JobRecord; returns: MinionReturn[] }
  | { type: 'status'; minions: MinionStatus[]; master?: MasterCounters }
  | { type: 'recorded' }
  /** `stale`: why the master's view of the keys may be out of date (a cluster master cut off from etcd). */
  | { type: 'keys'; keys: KeyListing; stale?: string }
  /** One key changed; `keys_changed` follows the last. */
  | { type: 'key_changed'; change: KeyChange }
  | { type: 'keys_changed' }
  | { type: 'error'; code: string; message: string };
