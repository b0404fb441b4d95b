import type { Command } from 'commander';
import { BrineError, useColor } from '@brine/common';
import { control } from '../control/client.js';
import type { ControlRequest } from '../control/protocol.js';
import { socketOf, tgtType, withTargeting, type TargetOptions } from './jobs.js';
import { formatStatusTable, isHealthy } from './status-format.js';

/**
 * `master status [target]`: each accepted minion's connection, last sighting and
 * startup states, from the running master. Exit status 1 when any listed minion is
 * disconnected or its startup states are not done well (failed, retrying, running).
 */
export function registerStatusCommand(program: Command): void {
  withTargeting(program.command('status'))
    .description('connection, last seen, address and startup states of every accepted minion (or of the targeted ones)')
    .argument('[target]', 'minion target (glob by default); all accepted minions without it')
    .option('--json', 'print {"minions": [{"id", "connected", "last_seen", "address", "startup": {...}}], "master": {...}}')
    .action(async (target: string | undefined, opts: TargetOptions, cmd: Command) => {
      const type = tgtType(opts);
      if (target === undefined && type !== 'glob')
        throw new BrineError('usage', 'a targeting option (-E, -L, -G, -I, -S, -C, -N) needs a target');
      const req: ControlRequest = target === undefined ? { cmd: 'status' } : { cmd: 'status', target, tgt_type: type };
      for await (const event of control(socketOf(cmd), req)) {
        if (event.type !== 'status') continue;
        if (opts.json) process.stdout.write(`${JSON.stringify({ minions: event.minions, master: event.master }, null, 2)}\n`);
        else if (event.minions.length === 0) process.stderr.write('no accepted minions (see master keys list)\n');
        else process.stdout.write(formatStatusTable(event.minions, useColor(process.stdout)));
        if (!event.minions.every(isHealthy)) process.exitCode = 1;
      }
    });
}
