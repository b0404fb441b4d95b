import { BrineError, localRequest, useColor } from '@brine/common';
import { assertSlsName, formatStateReturn } from '@brine/states';
import { APPLY_EXIT, applyRefused, DEFAULT_WAIT, type ApplyFlags, type ApplyTarget } from './apply-options.js';
import { controlSocketPath, type MinionConfig } from '../config.js';
import { FINAL, MAX_WAIT, type ApplyRequest, type ControlEvent } from '../control-protocol.js';

/**
 * `minion apply` without `--local`: asks the running daemon to apply the states,
 * from its master, as a job recorded in the master's job cache and queued behind
 * any state run in progress; prints the return as `master apply` does. Returns
 * the exit status.
 */
export async function applyViaDaemon(sls: ApplyTarget, flags: ApplyFlags, config: MinionConfig): Promise<number> {
  if (flags.fileRoot || flags.pillarRoot)
    return applyRefused('--file-root and --pillar-root are for --local runs; through the daemon, states and pillar come from the master');
  const wait = flags.wait === undefined ? DEFAULT_WAIT : Number(flags.wait);
  if (!Number.isInteger(wait) || wait < 0 || wait > MAX_WAIT)
    return applyRefused(`--wait must be 0..${MAX_WAIT} seconds, got ${flags.wait}`);
  const mods = sls === 'highstate' ? [] : sls;
  try {
    mods.forEach(assertSlsName);
  } catch (err) {
    return applyRefused((err as Error).message);
  }

  const request: ApplyRequest = { cmd: 'apply', mods, test: flags.test === true, wait };
  const path = controlSocketPath(config);
  const peer = {
    path,
    daemon: 'minion' as const,
    allowed: "only root, the daemon's user, may use it (run minion apply as root)",
    whenDown: `start it (systemctl start brine-minion), or apply without the master: minion apply --local ${sls === 'highstate' ? sls : sls.join(',')}`,
  };
  try {
    for await (const event of localRequest<ControlEvent>(peer, request, FINAL)) {
      if (event.type === 'waiting') {
        const holder = event.running ? `job ${event.running.jid} (${event.running.fun})` : 'a job that is starting';
        const more = event.queued > 0 ? `, and ${event.queued} more queued before this one` : '';
        process.stderr.write(`minion apply: waiting for ${holder} to finish${more} (up to ${event.wait} s)\n`);
      } else if (event.type === 'started') {
        process.stderr.write(`minion apply: running as job ${event.jid}\n`);
      } else if (event.type === 'done') {
        process.stdout.write(
          flags.json
            ? `${JSON.stringify(event.ret, null, 2)}\n`
            : formatStateReturn(event.ret, { color: useColor(process.stdout), minionId: config.id, test: request.test }),
        );
        return event.success ? APPLY_EXIT.ok : APPLY_EXIT.failed;
      }
    }
  } catch (err) {
    if (!(err instanceof BrineError)) throw err;
    return applyRefused(err.message, APPLY_EXIT.failed);
  }
  // localRequest throws when the answer ends without `done`.
  return APPLY_EXIT.failed;
}
