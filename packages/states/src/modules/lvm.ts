import { lvmReport, type LvmCommand, type LvmRow } from '../facts/lvm.js';
import { describeSignatures, signatures, type Signature } from '../facts/signatures.js';
import { clearance, destroyedChange, formatBytes, nodeAt, pending, prepareDevice, unlessBlockDevice, wouldCreate } from './storage.js';
import {
  stateFunction,
  type ArgProblem,
  type ArgSpecs,
  type ArgsOf,
  type Changes,
  type Outcome,
  type Plan,
  type StateContext,
  type StateModule,
} from './types.js';

const report = (ctx: StateContext, command: LvmCommand, fields: readonly string[], target: string): Promise<LvmRow[]> =>
  ctx.facts.get(lvmReport, command, fields.join(','), target);

/** A failed LVM command as the state's outcome; undefined if it succeeded. */
async function lvm(ctx: StateContext, command: string, args: readonly string[]): Promise<Outcome | undefined> {
  const r = await ctx.runner.run(command, args);
  if (r.exitCode === 0) return undefined;
  return { result: false, comment: `${command} ${args.join(' ')} failed: ${r.error ?? r.stderr.trim()}`, changes: {} };
}

// ---- physical volumes

const pvAction = (device: string) => `initialise ${device} as an LVM physical volume`;

const pvPresent = stateFunction({
  args: {
    force: { type: 'boolean', default: false, doc: 'destroy whatever signature (file system, LUKS, partition table) the device holds' },
  },
  async inspect(args, ctx): Promise<Plan<{ destroy: Signature[] }>> {
    const notThere = await unlessBlockDevice(ctx, args.name, `Would ${pvAction(args.name)}`, { created: args.name });
    if (notThere) return notThere;
    if ((await report(ctx, 'pvs', ['pv_name'], args.name)).length > 0)
      return { kind: 'correct', comment: `Physical volume ${args.name} is present` };
    const clear = await clearance(ctx, args.name, args.force, pvAction);
    if (!clear.ok) return { kind: 'error', comment: clear.comment };
    return {
      kind: 'change',
      comment: wouldCreate(args.name, clear.destroy, pvAction),
      changes: { created: args.name, ...destroyedChange(clear.destroy) },
      data: { destroy: clear.destroy },
    };
  },
  async apply(args, plan, ctx) {
    const refused = await prepareDevice(ctx, args.name, plan.data.destroy);
    if (refused) return { result: false, comment: refused, changes: {} };
    return (
      (await lvm(ctx, 'pvcreate', ['--quiet', args.name])) ?? {
        result: true,
        comment: `Created physical volume ${args.name}`,
        changes: plan.changes,
      }
    );
  },
});

const pvAbsent = stateFunction({
  args: {},
  async inspect(args, ctx) {
    const [pv] = await report(ctx, 'pvs', ['pv_name', 'vg_name'], args.name);
    if (!pv) return { kind: 'correct', comment: `Physical volume ${args.name} is not present` };
    const would = `Would remove the LVM label from ${args.name}`;
    if (pv['vg_name']) {
      const problem = `physical volume ${args.name} belongs to volume group ${pv['vg_name']}; remove the group first (lvm.vg_absent)`;
      return pending(
        ctx,
        problem,
        would,
        { removed: args.name },
        `it belongs to volume group ${pv['vg_name']} now; an earlier state must remove the group`,
      );
    }
    return { kind: 'change', comment: would, changes: { removed: args.name } };
  },
  async apply(args, plan, ctx) {
    return (
      (await lvm(ctx, 'pvremove', ['--quiet', args.name])) ?? {
        result: true,
        comment: `Removed physical volume ${args.name}`,
        changes: plan.changes,
      }
    );
  },
});

// ---- volume groups

const VG_ARGS = {
  devices: { type: 'string-list', default: [], doc: 'devices the group must contain; new ones are initialised as physical volumes' },
  force: { type: 'boolean', default: false, doc: 'destroy whatever signature a new device holds' },
} as const satisfies ArgSpecs;

/** How a device given to vg_present stands. */
interface VgDevice {
  device: string;
  /** already a PV (of no group): added as it is; else initialised, destroying `destroy` first */
  pv: boolean;
  destroy: Signature[];
}

/** The devices of `args` that are not in the group yet, or the plan that stops the state. */
async function devicesToAdd(args: ArgsOf<typeof VG_ARGS>, ctx: StateContext): Promise<VgDevice[] | Plan<never>> {
  const add: VgDevice[] = [];
  const missing: string[] = [];
  for (const device of args.devices) {
    const node = await nodeAt(ctx, device);
    if (node.kind === 'missing') {
      missing.push(device);
      continue;
    }
    if (node.kind !== 'block') return { kind: 'error', comment: `${device} is not a block device` };
    const [pv] = await report(ctx, 'pvs', ['pv_name', 'vg_name'], device);
    if (pv?.['vg_name'] === args.name) continue;
    if (pv?.['vg_name']) return { kind: 'error', comment: `${device} already belongs to volume group ${pv['vg_name']}` };
    if (pv) {
      add.push({ device, pv: true, destroy: [] });
      continue;
    }
    const clear = await clearance(ctx, device, args.force, (d) => `add ${d} to volume group ${args.name}`);
    if (!clear.ok) return { kind: 'error', comment: clear.comment };
    add.push({ device, pv: false, destroy: clear.destroy });
  }
  if (missing.length > 0) {
    const what = `${missing.join(', ')} ${missing.length > 1 ? 'do' : 'does'} not exist`;
    return pending(ctx, what, `Would put ${args.devices.join(', ')} in volume group ${args.name}`, { devices: args.devices });
  }
  return add;
}

const describeVgDevice = (d: VgDevice): string =>
  d.pv
    ? `${d.device} (a physical volume already)`
    : d.destroy.length > 0
      ? `${d.device} (destroying ${describeSignatures(d.destroy)})`
      : `${d.device} (no signature found)`;

const vgPresent = stateFunction({
  args: VG_ARGS,
  async inspect(args, ctx): Promise<Plan<{ add: VgDevice[]; exists: boolean }>> {
    const exists = (await report(ctx, 'vgs', ['vg_name'], args.name)).length > 0;
    if (!exists && args.devices.length === 0)
      return { kind: 'error', comment: `Volume group ${args.name} does not exist and no devices are given to create it on` };
    const add = await devicesToAdd(args, ctx);
    if (!Array.isArray(add)) return add;
    if (add.length === 0) return { kind: 'correct', comment: `Volume group ${args.name} is present` };
    const list = add.map(describeVgDevice).join(', ');
    const destroyed = Object.fromEntries(add.filter((d) => d.destroy.length > 0).map((d) => [d.device, describeSignatures(d.destroy)]));
    const changes: Changes = {
      [exists ? 'extended' : 'created']: args.name,
      devices: add.map((d) => d.device),
      ...(Object.keys(destroyed).length > 0 && { destroyed }),
    };
    const comment = exists ? `Would add ${list} to volume group ${args.name}` : `Would create volume group ${args.name} on ${list}`;
    return { kind: 'change', comment, changes, data: { add, exists } };
  },
  async apply(args, plan, ctx) {
    const { add, exists } = plan.data;
    for (const d of add) {
      const refused = d.pv ? undefined : await prepareDevice(ctx, d.device, d.destroy);
      if (refused) return { result: false, comment: refused, changes: {} };
    }
    const devices = add.map((d) => d.device);
    const failed = await lvm(ctx, exists ? 'vgextend' : 'vgcreate', ['--quiet', args.name, ...devices]);
    if (failed) return failed;
    const comment = exists
      ? `Added ${devices.join(', ')} to volume group ${args.name}`
      : `Created volume group ${args.name} on ${devices.join(', ')}`;
    return { result: true, comment, changes: plan.changes };
  },
});

const vgAbsent = stateFunction({
  args: {
    force: { type: 'boolean', default: false, doc: 'also remove the logical volumes the group still holds (their data is lost)' },
  },
  async inspect(args, ctx): Promise<Plan<{ lvs: number }>> {
    if ((await report(ctx, 'vgs', ['vg_name'], args.name)).length === 0)
      return { kind: 'correct', comment: `Volume group ${args.name} is not present` };
    const lvs = await report(ctx, 'lvs', ['lv_name', 'lv_size'], args.name);
    const list = lvs.map((lv) => `${lv['lv_name']} (${formatBytes(Number(lv['lv_size']))})`).join(', ');
    if (lvs.length > 0 && !args.force) {
      const problem = `volume group ${args.name} still holds logical volumes ${list}; remove them first (lvm.lv_absent) or set force: true to destroy them with it`;
      return pending(
        ctx,
        problem,
        `Would remove volume group ${args.name}`,
        { removed: args.name },
        `it holds logical volumes ${list} now; an earlier state must remove them`,
      );
    }
    const comment =
      lvs.length > 0
        ? `Would remove volume group ${args.name} and destroy its logical volumes ${list}`
        : `Would remove volume group ${args.name}`;
    return {
      kind: 'change',
      comment,
      changes: { removed: args.name, ...(lvs.length > 0 && { destroyed: lvs.map((lv) => lv['lv_name']) }) },
      data: { lvs: lvs.length },
    };
  },
  async apply(args, plan, ctx) {
    // --force removes the LVs without asking, and is only passed when the state said force: true.
    const failed = await lvm(ctx, 'vgremove', ['--quiet', ...(plan.data.lvs > 0 ? ['--force'] : []), args.name]);
    return failed ?? { result: true, comment: `Removed volume group ${args.name}`, changes: plan.changes };
  },
});

// ---- logical volumes

const SIZE = /^\d+(\.\d+)?[bBsSkKmMgGtTpPeE]?$/;
const EXTENTS = /^\d+(%(VG|FREE|PVS|ORIGIN))?$/;

const lvPresent = stateFunction({
  args: {
    vgname: { type: 'string', required: true, doc: 'volume group the volume is in' },
    size: { type: 'string', doc: 'size, in MiB or with a suffix (S, K, M, G, T, P), e.g. 10G' },
    extents: { type: 'string', doc: "extents, or a percentage as lvcreate takes it (e.g. '100%FREE')" },
  },
  validate(args) {
    const problems: ArgProblem[] = [];
    if ((args.size === undefined) === (args.extents === undefined))
      problems.push({ arg: null, detail: 'give exactly one of size and extents' });
    if (args.size !== undefined && !SIZE.test(args.size))
      problems.push({ arg: 'size', detail: `size '${args.size}' is not a size such as 512M or 10G` });
    if (args.extents !== undefined && !EXTENTS.test(args.extents))
      problems.push({ arg: 'extents', detail: `extents '${args.extents}' is not a count or a percentage such as 100%FREE` });
    return problems;
  },
  async inspect(args, ctx): Promise<Plan<{ create: boolean }>> {
    const path = `${args.vgname}/${args.name}`;
    const [lv] = await report(ctx, 'lvs', ['lv_name', 'lv_size', 'lv_active'], path);
    if (lv?.['lv_active'] === 'active')
      return { kind: 'correct', comment: `Logical volume ${path} is present (${formatBytes(Number(lv['lv_size']))})` };
    if (lv)
      return { kind: 'change', comment: `Would activate logical volume ${path}`, changes: { activated: path }, data: { create: false } };
    const amount = args.size ?? args.extents!;
    const changes = { created: path, [args.size !== undefined ? 'size' : 'extents']: amount };
    const would = `Would create logical volume ${path} (${amount})`;
    if ((await report(ctx, 'vgs', ['vg_name'], args.vgname)).length === 0)
      return pending(ctx, `volume group ${args.vgname} does not exist`, would, changes);
    return { kind: 'change', comment: would, changes, data: { create: true } };
  },
  async apply(args, plan, ctx) {
    const path = `${args.vgname}/${args.name}`;
    if (!plan.data.create)
      return (
        (await lvm(ctx, 'lvchange', ['--quiet', '--activate', 'y', path])) ?? {
          result: true,
          comment: `Activated logical volume ${path}`,
          changes: plan.changes,
        }
      );
    const amount = args.size !== undefined ? ['--size', args.size] : ['--extents', args.extents!];
    // The new volume's space may hold signatures of a removed one; they belong to nothing now, so wipe them.
    const failed = await lvm(ctx, 'lvcreate', ['--quiet', '--yes', '--wipesignatures', 'y', '--name', args.name, ...amount, args.vgname]);
    return failed ?? { result: true, comment: `Created logical volume ${path}`, changes: plan.changes };
  },
});

const lvAbsent = stateFunction({
  args: {
    vgname: { type: 'string', required: true, doc: 'volume group the volume is in' },
  },
  async inspect(args, ctx) {
    const path = `${args.vgname}/${args.name}`;
    const [lv] = await report(ctx, 'lvs', ['lv_size', 'lv_active', 'lv_path'], path);
    if (!lv) return { kind: 'correct', comment: `Logical volume ${path} is not present` };
    // Say what is lost: the signatures on an active volume (an inactive one cannot be read).
    const held = lv['lv_active'] === 'active' ? describeSignatures(await ctx.facts.get(signatures, lv['lv_path']!)) : '';
    const what = [formatBytes(Number(lv['lv_size'])), ...(held ? [`holding ${held}`] : [])].join(', ');
    return { kind: 'change', comment: `Would remove logical volume ${path} (${what})`, changes: { removed: path } };
  },
  async apply(args, plan, ctx) {
    const path = `${args.vgname}/${args.name}`;
    return (
      (await lvm(ctx, 'lvremove', ['--quiet', '--yes', path])) ?? {
        result: true,
        comment: `Removed logical volume ${path}`,
        changes: plan.changes,
      }
    );
  },
});

export const lvmModule: StateModule = {
  name: 'lvm',
  functions: {
    pv_present: pvPresent,
    pv_absent: pvAbsent,
    vg_present: vgPresent,
    vg_absent: vgAbsent,
    lv_present: lvPresent,
    lv_absent: lvAbsent,
  },
};
