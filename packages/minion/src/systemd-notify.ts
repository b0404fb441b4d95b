import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { Logger } from '@brine/common';

const run = promisify(execFile);

/**
 * Tells systemd about the daemon's state when it runs as a Type=notify unit. Node
 * cannot send on a Unix datagram socket, so this uses `systemd-notify` with the
 * daemon's PID; the unit sets NotifyAccess=all so systemd accepts it from a child.
 * Outside systemd (no NOTIFY_SOCKET) it does nothing. node:child_process, not
 * execa: loading execa costs ~0.1 s of the minion's start, on the boot's critical path.
 */
export async function notifySystemd(fields: { ready?: boolean; status: string }, log: Logger): Promise<void> {
  if (!process.env['NOTIFY_SOCKET']) return;
  const args = [`--pid=${process.pid}`, `--status=${fields.status}`];
  if (fields.ready) args.push('--ready');
  try {
    await run('systemd-notify', args, { timeout: 5000 });
  } catch (err) {
    log.warn({ err: (err as Error).message }, 'systemd-notify failed');
  }
}
