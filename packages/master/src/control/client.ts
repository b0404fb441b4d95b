import { localRequest } from '@brine/common';
import type { ControlEvent, ControlRequest } from './protocol.js';

/** Events after which the master closes the connection: the answer is complete. */
const FINAL: ReadonlySet<ControlEvent['type']> = new Set(['done', 'grains', 'jobs', 'job', 'status', 'recorded', 'keys', 'keys_changed']);

/**
 * Sends one request to the master's control socket and yields its events as they arrive.
 * A connection that ends before the answer is complete (the master died or was
 * stopped) throws `master_lost`, so a caller never takes half an answer for all of it.
 */
export function control(to: string | { path: string; group: string }, req: ControlRequest): AsyncGenerator<ControlEvent> {
  const { path, group } = typeof to === 'string' ? { path: to, group: '' } : to;
  const allowed =
    group === ''
      ? "only the master's user may control it"
      : `only the master's user and members of group ${group} (sock_group) may control it`;
  return localRequest<ControlEvent>({ path, daemon: 'master', allowed }, req, FINAL);
}
