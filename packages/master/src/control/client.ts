import { createConnection } from 'node:net';
import { createInterface } from 'node:readline';
import { BrineError } from '@brine/common';
import { currentOperator } from '../operator.js';
import type { ControlEvent, ControlRequest, WireRequest } from './protocol.js';

/** Events after which the master closes the connection: the answer is complete. */
const FINAL: ReadonlySet<ControlEvent['type']> = new Set(['done', 'grains', 'jobs', 'job', 'status', 'recorded']);

/**
 * Sends one request to the master's control socket and yields its events as they arrive.
 * A connection that ends before the answer is complete (the master died or was
 * stopped) throws `master_lost`, so a caller never takes half an answer for all of it.
 */
export async function* control(to: string | { path: string; group: string }, req: ControlRequest): AsyncGenerator<ControlEvent> {
  const { path, group } = typeof to === 'string' ? { path: to, group: '' } : to;
  const allowed = group === '' ? "only the master's user may control it" : `only the master's user and members of group ${group} (sock_group) may control it`;
  const socket = createConnection(path);
  const connected = new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT' || err.code === 'ECONNREFUSED') reject(new BrineError('master_down', `the master is not running (no control socket at ${path})`));
      else if (err.code === 'EACCES') reject(new BrineError('permission_denied', `permission denied on ${path}: ${allowed}`));
      else reject(new BrineError('control_failed', `cannot reach the master at ${path}: ${err.message}`));
    });
  });
  await connected;
  const wire: WireRequest = { ...req, operator: currentOperator() };
  socket.write(`${JSON.stringify(wire)}\n`);
  let complete = false;
  try {
    for await (const line of createInterface({ input: socket, crlfDelay: Infinity })) {
      if (!line) continue;
      const event = JSON.parse(line) as ControlEvent;
      if (event.type === 'error') throw new BrineError(event.code, event.message);
      complete ||= FINAL.has(event.type);
      yield event;
    }
  } catch (err) {
    if (err instanceof BrineError) throw err;
    throw new BrineError('master_lost', `lost the connection to the master at ${path}: ${(err as Error).message}`);
  } finally {
    socket.destroy();
  }
  if (!complete) throw new BrineError('master_lost', `the master closed its control connection before answering (${path})`);
}
