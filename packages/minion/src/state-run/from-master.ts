import type { Json } from '@brine/protocol';
import { jinjaYamlRenderer, nodeExecHost, SCRATCH_DIRS } from '@brine/states';
import type { MinionContext } from '../connect.js';
import type { StateTreeMirror } from './tree-mirror.js';
import type { JobFunction } from '../jobs.js';
import { masterSecrets } from './master-secrets.js';
import { anyFailed, runStateTree } from './run-tree.js';

/**
 * `state.apply` as the master pushes it (and as startup states run): the state
 * tree mirrored from the master, pillar from the master for rendering, and each
 * secret fetched from the master at the moment a state needs it. A pushed job
 * brings the tree's hash and the pillar along; a startup run, or a job without
 * them, asks the master. One renderer serves every run: files the mirror left
 * unchanged are not parsed again (it checks each file's stat, so an updated
 * tree is read afresh).
 */
export function stateApplyFromMaster(ctx: MinionContext, mirror: StateTreeMirror): JobFunction {
  // Render-time commands' output goes first to the minion's own runtime directory (tmpfs under systemd).
  const scratchDir = ctx.config.sock_dir;
  const render = jinjaYamlRenderer({ roots: [mirror.root], host: nodeExecHost({ scratchDirs: [scratchDir, ...SCRATCH_DIRS] }) });
  return async ({ args, context }) => {
    const mods = Array.isArray(args['mods']) ? (args['mods'] as string[]) : [];
    const test = args['test'] === true;
    const fileRoot = await mirror.sync(context?.state_tree);
    const pillar = context?.pillar ?? (await ctx.channel.request('pillar.items')).value;
    const secrets = masterSecrets(ctx.channel);
    const outcome = await runStateTree({
      minionId: ctx.config.id,
      fileRoots: [fileRoot],
      pillar: (pillar ?? {}) as Record<string, unknown>,
      grains: ctx.grains,
      target: mods.length > 0 ? mods : 'highstate',
      test,
      secrets,
      logger: ctx.log,
      render,
      scratchDir,
    });
    if (outcome.kind === 'problems') return { success: false, ret: outcome.problems };
    return { success: !anyFailed(outcome.results), ret: outcome.results as unknown as Json, transient: secrets.unreachable };
  };
}
