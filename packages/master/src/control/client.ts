import { createConnection } from 'node:net';
import { createInterface } from 'node:readline';
import { BrineError } from '@brine/common';
import type { ControlEvent, ControlRequest } from './protocol.js';

/** Sends one request to the master's control socket and yields its events as they arrive. */
export async function* control(path: string, req: ControlRequest): AsyncGenerator<ControlEvent> {
  const socket = createConnection(path);
  const connected = new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT' || err.code === 'ECONNREFUSED') reject(new BrineError('master_down', `the master is not running (no control socket at ${path})`));
      else if (err.code === 'EACCES') reject(new BrineError('permission_denied', `permission denied on ${path}: only the master's user may control it`));
      else reject(new BrineError('control_failed', `cannot reach the master at ${path}: ${err.message}`));
    });
  });
  await connected;
  socket.write(`${JSON.stringify(req)}\n`);
  for await (const line of createInterface({ input: socket, crlfDelay: Infinity })) {
    if (!line) continue;
    const event = JSON.parse(line) as ControlEvent;
    if (event.type === 'error') throw new BrineError(event.code, event.message);
    yield event;
  }
}
