import { describeSignatures, signatures, type Signature } from '../facts/signatures.js';
import { clearance, destroyedChange, prepareDevice, unlessBlockDevice, wouldCreate } from './storage.js';
import { stateFunction, type Plan, type StateModule } from './types.js';

const formatted = stateFunction({
  args: {
    fs_type: { type: 'string', default: 'ext4', values: ['ext2', 'ext3', 'ext4', 'xfs'], doc: 'file system to make' },
    force: {
      type: 'boolean',
      default: false,
      doc: 'format a device that holds another signature (file system, LVM, LUKS, partition table), destroying it',
    },
  },
  async inspect(args, ctx): Promise<Plan<{ destroy: Signature[] }>> {
    const action = (device: string) => `format ${device} as ${args.fs_type}`;
    const changes = { formatted: args.fs_type };
    const notThere = await unlessBlockDevice(ctx, args.name, `Would ${action(args.name)}`, changes);
    if (notThere) return notThere;
    const found = await ctx.facts.get(signatures, args.name);
    if (found[0]?.type === args.fs_type)
      return { kind: 'correct', comment: `${args.name} is formatted as ${describeSignatures(found)} already` };
    const clear = await clearance(ctx, args.name, args.force, action, found);
    if (!clear.ok) return { kind: 'error', comment: clear.comment };
    return {
      kind: 'change',
      comment: wouldCreate(args.name, clear.destroy, action),
      changes: { ...changes, ...destroyedChange(clear.destroy) },
      data: { destroy: clear.destroy },
    };
  },
  async apply(args, plan, ctx) {
    const refused = await prepareDevice(ctx, args.name, plan.data.destroy);
    if (refused) return { result: false, comment: refused, changes: {} };
    const r = await ctx.runner.run(`mkfs.${args.fs_type}`, ['-q', args.name]);
    if (r.exitCode !== 0)
      return { result: false, comment: `mkfs.${args.fs_type} ${args.name} failed: ${r.error ?? r.stderr.trim()}`, changes: {} };
    return { result: true, comment: `Formatted ${args.name} as ${args.fs_type}`, changes: plan.changes };
  },
});

export const blockdevModule: StateModule = { name: 'blockdev', functions: { formatted } };
