import type { MasterLink } from '../channel.js';
import type { OwnJob } from '../jobs.js';
import type { StateArgs } from './startup-states.js';

/**
 * A state.apply this minion starts itself, recorded in the master's job cache by
 * `job.begin` when its turn comes. `origin` says who started it: the daemon at
 * boot (`startup`) or an operator on this server (`minion`, `minion apply`).
 */
export function ownStateApply(channel: MasterLink, args: StateArgs, origin: 'startup' | 'minion'): OwnJob {
  const jobArgs = { mods: args.mods, test: args.test };
  return {
    fun: 'state.apply',
    args: jobArgs,
    begin: async () => (await channel.request('job.begin', { fun: 'state.apply', args: jobArgs, origin })).value as string,
  };
}
