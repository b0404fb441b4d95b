import { isAbsolute, normalize } from 'node:path';
import { deviceType, isTaggedDevice, majMin } from '../facts/devices.js';
import { pathStat } from '../facts/files.js';
import { fstabEscape, fstabIndex, fstabLines, mounts, topMountAt, type MountEntry } from '../facts/mounts.js';
import { splitOptions } from './args.js';
import { nodeAt, pending, resolveDevice } from './storage.js';
import { stateFunction, type ArgSpecs, type ArgsOf, type Changes, type Plan, type StateContext, type StateModule } from './types.js';

/**
 * The options whose presence the kernel reports for every mount, so a run can tell whether a
 * remount is due. File-system options (errors=, data=) are applied when mounting but not compared:
 * the kernel hides the defaults among them, and comparing them would remount on every run.
 */
const VFS_FLAGS = new Set(['ro', 'rw', 'noatime', 'relatime', 'nodiratime', 'nosuid', 'nodev', 'noexec', 'sync', 'dirsync']);
/** Flags that are the kernel's defaults and never listed: met while their opposite is absent. */
const DEFAULT_FLAGS: Record<string, string> = {
  suid: 'nosuid',
  dev: 'nodev',
  exec: 'noexec',
  async: 'sync',
  diratime: 'nodiratime',
  atime: 'noatime',
};

/** The wanted options a mount does not have now. */
function missingFlags(wanted: readonly string[], current: string): string[] {
  const have = new Set(current.split(','));
  return wanted.filter((o) => (VFS_FLAGS.has(o) && !have.has(o)) || (Object.hasOwn(DEFAULT_FLAGS, o) && have.has(DEFAULT_FLAGS[o]!)));
}

/** Replaces the fstab in one rename, keeping its mode, so a crash never leaves half an fstab. */
async function writeFstab(ctx: StateContext, config: string, lines: readonly string[]): Promise<void> {
  const mode = (await ctx.fs.stat(config))?.mode ?? 0o644;
  await ctx.fs.replaceFile(config, Buffer.from(lines.length > 0 ? `${lines.join('\n')}\n` : ''), { mode });
}

// ---- mount.mounted

interface MountedPlan {
  device: string;
  mkdir: boolean;
  action: 'mount' | 'remount' | 'none';
  /** The fstab as it should be written, if it changes. */
  fstab?: string[];
}

const FSTAB_ARGS = {
  config: { type: 'string', default: '/etc/fstab', doc: 'the fstab file to keep the entry in' },
  persist: {
    type: 'boolean',
    default: false,
    doc: 'keep the mount in the fstab (off by default: volumes Brine unlocks are mounted by Brine, not at boot)',
  },
} as const satisfies ArgSpecs;

const MOUNTED_ARGS = {
  device: {
    type: 'string',
    required: true,
    doc: 'what to mount: /dev/… (e.g. /dev/mapper/data, /dev/vg0/lv), UUID=…, LABEL=…, or a source such as tmpfs',
  },
  fstype: { type: 'string', required: true, doc: 'file system type, e.g. ext4, xfs, tmpfs' },
  mkmnt: { type: 'boolean', default: false, doc: 'create the mount point if it does not exist' },
  opts: { type: 'string-list', default: ['defaults'], doc: 'mount options, a list or comma-separated' },
  dump: { type: 'integer', default: 0, doc: 'fstab dump field' },
  pass_num: { type: 'integer', default: 0, doc: 'fstab pass field' },
  ...FSTAB_ARGS,
  mount: { type: 'boolean', default: true, doc: 'mount now (false: only keep the fstab entry)' },
} as const satisfies ArgSpecs;

/** What the fstab must become for `args`, or undefined if it is right already. */
async function fstabPlan(
  ctx: StateContext,
  args: ArgsOf<typeof MOUNTED_ARGS>,
  opts: readonly string[],
): Promise<{ lines: string[]; change: 'new' | 'update' } | undefined> {
  const lines = await ctx.facts.get(fstabLines, args.config);
  const want = [args.device, args.name, args.fstype, opts.join(','), String(args.dump), String(args.pass_num)].map(fstabEscape).join('\t');
  const at = fstabIndex(lines, args.name);
  if (at === -1) return { lines: [...lines, want], change: 'new' };
  if (lines[at]!.trim().split(/\s+/).join('\t') === want) return undefined;
  return { lines: lines.map((line, i) => (i === at ? want : line)), change: 'update' };
}

/**
 * A dm-crypt device that Brine opens after boot must not be waited for by the boot itself:
 * systemd would give up after 90 s and stop in emergency mode, and the minion would never start.
 */
async function persistProblem(ctx: StateContext, device: string, opts: readonly string[]): Promise<string | undefined> {
  if (opts.includes('nofail') || opts.includes('noauto')) return undefined;
  if ((await ctx.facts.get(deviceType, device)) !== 'crypt') return undefined;
  return `Refusing to persist ${device} in the fstab without nofail or noauto: it is an encrypted volume opened after boot, and the boot would wait for it and stop; add nofail to opts`;
}

const mounted = stateFunction({
  args: MOUNTED_ARGS,
  validate: (args) => (isAbsolute(args.name) ? [] : [{ arg: 'name', detail: `the mount point '${args.name}' is not an absolute path` }]),
  async inspect(args, ctx): Promise<Plan<MountedPlan>> {
    const name = normalize(args.name);
    const opts = splitOptions(args.opts);
    const changes: Changes = {};
    const notes: string[] = [];
    const device = await resolveDevice(ctx, args.device);
    const would = `Would mount ${args.device} at ${name}`;
    if (device === undefined) return pending(ctx, `no device has ${args.device}`, would, { mount: true });
    const node = device.startsWith('/dev/') || isTaggedDevice(args.device) ? await nodeAt(ctx, device) : undefined;
    if (node?.kind === 'missing') return pending(ctx, `${device} does not exist`, would, { mount: true });
    const plan: MountedPlan = { device, mkdir: false, action: 'none' };
    if (args.mount) {
      const all = await ctx.facts.get(mounts);
      const here = topMountAt(all, name);
      const same = (m: MountEntry) => (node?.kind === 'block' ? m['maj:min'] === majMin(node.rdev) : m.source === device);
      if (here && !same(here))
        return { kind: 'error', comment: `${here.source} is mounted at ${name}, not ${args.device}; unmount it first (mount.unmounted)` };
      if (here) {
        const missing = missingFlags(opts, here.options);
        if (missing.length > 0) {
          plan.action = 'remount';
          changes['remount'] = `options ${missing.join(',')}`;
          notes.push(`Would remount ${name} with ${missing.join(',')}`);
        }
      } else {
        const st = await ctx.facts.get(pathStat, name).catch(() => undefined);
        if (st && st.type !== 'directory') return { kind: 'error', comment: `Mount point ${name} exists and is not a directory` };
        if (!st && !args.mkmnt) return { kind: 'error', comment: `Mount point ${name} does not exist (set mkmnt: True to create it)` };
        plan.mkdir = !st;
        plan.action = 'mount';
        changes['mount'] = true;
        const elsewhere = all.filter((m) => same(m)).map((m) => m.target);
        notes.push(`${would}${elsewhere.length > 0 ? ` (it is also mounted at ${elsewhere.join(', ')})` : ''}`);
      }
    }
    if (args.persist) {
      const refused = await persistProblem(ctx, device, opts);
      if (refused) return { kind: 'error', comment: refused };
      const fstab = await fstabPlan(ctx, args, opts);
      if (fstab) {
        plan.fstab = fstab.lines;
        changes['persist'] = fstab.change;
        notes.push(fstab.change === 'new' ? `Would add ${name} to ${args.config}` : `Would update the entry for ${name} in ${args.config}`);
      }
    }
    if (Object.keys(changes).length === 0)
      return { kind: 'correct', comment: args.mount ? `${args.device} is mounted at ${name}` : `${name} is in ${args.config}` };
    return { kind: 'change', comment: notes.join('; '), changes, data: plan };
  },
  async apply(args, plan, ctx) {
    const { device, mkdir: makeDir, action, fstab } = plan.data;
    const name = normalize(args.name);
    const opts = splitOptions(args.opts);
    const done: string[] = [];
    if (makeDir) await ctx.fs.mkdir(name, { recursive: true, mode: 0o755 });
    if (action !== 'none') {
      const argv =
        action === 'mount' ? ['-t', args.fstype, '-o', opts.join(','), device, name] : ['-o', ['remount', ...opts].join(','), name];
      const r = await ctx.runner.run('mount', argv);
      if (r.exitCode !== 0) return { result: false, comment: `mount ${argv.join(' ')} failed: ${r.error ?? r.stderr.trim()}`, changes: {} };
      done.push(action === 'mount' ? `Mounted ${args.device} at ${name}` : `Remounted ${name} with ${opts.join(',')}`);
    }
    if (fstab) {
      await writeFstab(ctx, args.config, fstab);
      done.push(plan.changes['persist'] === 'new' ? `added ${name} to ${args.config}` : `updated ${name} in ${args.config}`);
    }
    return { result: true, comment: done.join('; '), changes: plan.changes };
  },
});

// ---- mount.unmounted

const unmounted = stateFunction({
  args: {
    config: FSTAB_ARGS.config,
    persist: { type: 'boolean', default: false, doc: 'also remove the entry from the fstab' },
  },
  validate: (args) => (isAbsolute(args.name) ? [] : [{ arg: 'name', detail: `the mount point '${args.name}' is not an absolute path` }]),
  async inspect(args, ctx): Promise<Plan<{ umount: boolean; fstab?: string[] }>> {
    const name = normalize(args.name);
    const here = topMountAt(await ctx.facts.get(mounts), name);
    const lines = args.persist ? await ctx.facts.get(fstabLines, args.config) : [];
    const at = fstabIndex(lines, name);
    const changes: Changes = { ...(here && { umount: true }), ...(at !== -1 && { persist: 'purged' }) };
    if (Object.keys(changes).length === 0) return { kind: 'correct', comment: `Nothing is mounted at ${name}` };
    const notes = [
      ...(here ? [`Would unmount ${here.source} from ${name}`] : []),
      ...(at !== -1 ? [`Would remove ${name} from ${args.config}`] : []),
    ];
    return {
      kind: 'change',
      comment: notes.join('; '),
      changes,
      data: { umount: !!here, ...(at !== -1 && { fstab: lines.filter((_, i) => i !== at) }) },
    };
  },
  async apply(args, plan, ctx) {
    const name = normalize(args.name);
    const { umount, fstab } = plan.data;
    if (umount) {
      const r = await ctx.runner.run('umount', [name]);
      if (r.exitCode !== 0) return { result: false, comment: `umount ${name} failed: ${r.error ?? r.stderr.trim()}`, changes: {} };
    }
    if (fstab) await writeFstab(ctx, args.config, fstab);
    return {
      result: true,
      comment: [...(umount ? [`Unmounted ${name}`] : []), ...(fstab ? [`removed ${name} from ${args.config}`] : [])].join('; '),
      changes: plan.changes,
    };
  },
});

export const mountModule: StateModule = { name: 'mount', functions: { mounted, unmounted } };
