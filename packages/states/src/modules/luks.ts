// LUKS volumes through cryptsetup. The key is fetched just in time (key_pillar: the secret
// provider asks the master for that one value) or comes from the rendered `key` argument; either
// way it reaches cryptsetup only on stdin (--key-file=-), never on argv or in a file, and the
// buffer holding it is zeroed as soon as cryptsetup is done with it.
import { deviceUsage, majMin } from '../facts/devices.js';
import { dmMapping } from '../facts/dm-mappings.js';
import { cryptsetupIsLuks, luksHeader } from '../facts/luks.js';
import { describeSignatures, signatures, type Signature } from '../facts/signatures.js';
import { SecretUnavailableError } from '../host/secrets.js';
import {
  clearance,
  describeUsage,
  destroyedChange,
  nodeAt,
  pending,
  prepareDevice,
  resolveDevice,
  unlessBlockDevice,
  wouldCreate,
} from './storage.js';
import {
  stateFunction,
  type ArgProblem,
  type ArgSpecs,
  type ArgsOf,
  type ChangePlan,
  type Changes,
  type Outcome,
  type Plan,
  type StateContext,
} from './types.js';

export const KEY_ARGS = {
  key_pillar: { type: 'string', doc: 'pillar key (a:b:c) holding the LUKS passphrase, fetched from the master only when it is needed' },
  key: { type: 'string', doc: "the passphrase itself, rendered from pillar (e.g. {{ pillar['luks']['password'] }}); redacted everywhere" },
} as const satisfies ArgSpecs;

/** Where a state's LUKS key comes from. */
export type KeyArgs = Omit<ArgsOf<typeof KEY_ARGS>, 'name'>;

export function keyProblems(args: KeyArgs): ArgProblem[] {
  if ((args.key === undefined) === (args.key_pillar === undefined))
    return [{ arg: null, detail: 'give exactly one of key_pillar (preferred) and key' }];
  return [];
}

export const keySource = (args: KeyArgs): string =>
  args.key_pillar !== undefined ? `from pillar ${args.key_pillar}` : 'from the key argument';

/** Gets the key just in time, lets `use` run cryptsetup with it, and zeroes it whatever happens. */
export async function withKey(args: KeyArgs, ctx: StateContext, use: (key: Buffer) => Promise<Outcome>): Promise<Outcome> {
  let key: Buffer;
  try {
    key = args.key_pillar !== undefined ? await ctx.secrets.fetch(args.key_pillar) : Buffer.from(args.key!, 'utf8');
  } catch (err) {
    if (err instanceof SecretUnavailableError) return { result: false, comment: `No LUKS key: ${err.message}`, changes: {} };
    throw err;
  }
  try {
    if (key.length === 0) return { result: false, comment: `The LUKS key ${keySource(args)} is empty`, changes: {} };
    return await use(key);
  } finally {
    key.fill(0);
  }
}

// ---- formatting

/** How a new key slot derives its key; cryptsetup's defaults (argon2id on LUKS2) when not given. */
export const KDF_ARGS = {
  pbkdf: {
    type: 'string',
    values: ['argon2id', 'argon2i', 'pbkdf2'],
    doc: 'key derivation for a new key slot (cryptsetup default: argon2id)',
  },
  pbkdf_force_iterations: { type: 'integer', doc: 'fixed PBKDF iterations instead of a benchmark (e.g. 1000 with pbkdf2 in tests)' },
} as const satisfies ArgSpecs;

const FORMAT_ARGS = {
  type: { type: 'string', default: 'luks2', values: ['luks1', 'luks2'], doc: 'LUKS version for a new header' },
  cipher: { type: 'string', doc: "cipher for a new header, e.g. 'aes-xts-plain64' (cryptsetup's default if not given)" },
  key_size: { type: 'integer', doc: 'volume key size in bits for a new header, e.g. 512' },
  ...KDF_ARGS,
  sector_size: { type: 'integer', doc: 'encryption sector size in bytes for LUKS2 (512 to 4096, a power of two)' },
  force: {
    type: 'boolean',
    default: false,
    doc: 'format a device that holds another signature (file system, LVM, partition table), destroying it; a LUKS device is never reformatted',
  },
} as const satisfies ArgSpecs;

export type FormatArgs = Omit<ArgsOf<typeof FORMAT_ARGS>, 'name'>;

function formatProblems(args: Omit<FormatArgs, 'force'>): ArgProblem[] {
  const problems: ArgProblem[] = [];
  if (args.type === 'luks1' && args.pbkdf !== undefined && args.pbkdf !== 'pbkdf2')
    problems.push({ arg: 'pbkdf', detail: 'LUKS1 supports only pbkdf: pbkdf2' });
  if (args.sector_size !== undefined) {
    if (args.type === 'luks1') problems.push({ arg: 'sector_size', detail: 'sector_size needs type: luks2' });
    else if (![512, 1024, 2048, 4096].includes(args.sector_size))
      problems.push({ arg: 'sector_size', detail: 'sector_size must be 512, 1024, 2048 or 4096' });
  }
  if (args.key_size !== undefined && (args.key_size <= 0 || args.key_size % 8 !== 0))
    problems.push({ arg: 'key_size', detail: 'key_size must be a positive number of bits, a multiple of 8' });
  return [...problems, ...kdfProblems(args)];
}

export function kdfProblems(args: Omit<ArgsOf<typeof KDF_ARGS>, 'name'>): ArgProblem[] {
  if (args.pbkdf_force_iterations !== undefined && args.pbkdf_force_iterations < 1)
    return [{ arg: 'pbkdf_force_iterations', detail: 'pbkdf_force_iterations must be at least 1' }];
  return [];
}

export const option = (flag: string, value: string | number | undefined): string[] => (value === undefined ? [] : [flag, String(value)]);

/** cryptsetup's arguments to format `device`; the key is read from stdin. */
export function luksFormatArgv(args: FormatArgs, device: string): string[] {
  return [
    'luksFormat',
    '--batch-mode',
    '--type',
    args.type,
    ...option('--cipher', args.cipher),
    ...option('--key-size', args.key_size),
    ...option('--pbkdf', args.pbkdf),
    ...option('--pbkdf-force-iterations', args.pbkdf_force_iterations),
    ...option('--sector-size', args.sector_size),
    '--key-file=-',
    device,
  ];
}

const formatAction = (args: FormatArgs) => (device: string) => `format ${device} as ${args.type.toUpperCase()}`;

/** The header check settles the usual case; cryptsetup decides the rest (a LUKS2 device whose primary header is damaged). */
async function isLuks(ctx: StateContext, device: string): Promise<boolean> {
  return (await ctx.facts.get(luksHeader, device)) || ctx.facts.get(cryptsetupIsLuks, device);
}

/** Formats after the signature gate let it; the caller holds the key. */
async function format(
  args: FormatArgs,
  device: string,
  destroy: readonly Signature[],
  key: Buffer,
  ctx: StateContext,
): Promise<Outcome | undefined> {
  const refused = await prepareDevice(ctx, device, destroy);
  if (refused) return { result: false, comment: refused, changes: {} };
  const r = await ctx.runner.run('cryptsetup', luksFormatArgv(args, device), { stdin: key });
  if (r.exitCode === 0) return undefined;
  return { result: false, comment: `cryptsetup luksFormat ${device} failed: ${r.error ?? r.stderr.trim()}`, changes: {} };
}

const formatChanges = (args: FormatArgs, destroy: readonly Signature[]): Changes => ({
  formatted: args.type.toUpperCase(),
  ...destroyedChange(destroy),
});

const formatted = stateFunction({
  args: { ...KEY_ARGS, ...FORMAT_ARGS },
  validate: (args) => [...keyProblems(args), ...formatProblems(args)],
  async inspect(args, ctx): Promise<Plan<{ destroy: Signature[] }>> {
    const changes = formatChanges(args, []);
    const notThere = await unlessBlockDevice(ctx, args.name, `Would ${formatAction(args)(args.name)}`, changes);
    if (notThere) return notThere;
    if (await isLuks(ctx, args.name))
      return { kind: 'correct', comment: `${args.name} is a LUKS device already (it is never reformatted)` };
    const clear = await clearance(ctx, args.name, args.force, formatAction(args));
    if (!clear.ok) return { kind: 'error', comment: clear.comment };
    return {
      kind: 'change',
      comment: wouldCreate(args.name, clear.destroy, formatAction(args)),
      changes: formatChanges(args, clear.destroy),
      data: { destroy: clear.destroy },
    };
  },
  apply: (args, plan, ctx) =>
    withKey(
      args,
      ctx,
      async (key) =>
        (await format(args, args.name, plan.data.destroy, key, ctx)) ?? {
          result: true,
          comment: `Formatted ${args.name} as ${args.type.toUpperCase()}`,
          changes: plan.changes,
        },
    ),
});

// ---- opening and closing

/** What opening a LUKS device needs, whichever state asks (luks.opened, luks.mapped, cryptdev.mapped). */
export interface MappingSpec extends KeyArgs {
  /** The mapping: /dev/mapper/<name>. */
  name: string;
  /** The LUKS device: a path, or UUID=/LABEL=. */
  device: string;
  readonly: boolean;
  discard: boolean;
  /** Tried when the key does not open the device: the passphrase a rotation (luks.key_rotated) replaces. */
  previous_key_pillar?: string | undefined;
  /** Format a blank device first with these options (luks.mapped); without, the device must be LUKS already. */
  format?: FormatArgs;
}

export interface MappingPlan {
  device: string;
  format: boolean;
  destroy: Signature[];
}

const MAPPING_NAME = /^[A-Za-z0-9][A-Za-z0-9._+-]*$/;

/** cryptsetup's arguments to open `device` as `name`; the key is read from stdin. */
export function luksOpenArgv(spec: MappingSpec, device: string): string[] {
  return [
    'open',
    '--type',
    'luks',
    ...(spec.readonly ? ['--readonly'] : []),
    ...(spec.discard ? ['--allow-discards'] : []),
    '--key-file=-',
    device,
    spec.name,
  ];
}

export async function inspectMapping(spec: MappingSpec, ctx: StateContext): Promise<Plan<MappingPlan>> {
  if (!MAPPING_NAME.test(spec.name))
    return { kind: 'error', comment: `'${spec.name}' is not a usable mapping name (letters, digits, . _ + -)` };
  const mapper = `/dev/mapper/${spec.name}`;
  const device = await resolveDevice(ctx, spec.device);
  const openChange = { opened: mapper };
  if (device === undefined) return pending(ctx, `no device has ${spec.device}`, `Would open ${spec.device} as ${mapper}`, openChange);
  const open = await ctx.facts.get(dmMapping, spec.name);
  if (open) {
    if (!open.type.startsWith('LUKS')) return { kind: 'error', comment: `${mapper} exists and is not a LUKS mapping (type ${open.type})` };
    const node = await nodeAt(ctx, device);
    if (node.kind === 'block' && open.backing.some((b) => b.majMin === majMin(node.rdev)))
      return { kind: 'correct', comment: `${device} is open as ${mapper}` };
    const under = open.backing.map((b) => `/dev/${b.kernelName}`).join(', ') || 'no device';
    return { kind: 'error', comment: `${mapper} is open on ${under}, not on ${device}; close it first (luks.closed)` };
  }
  const would = spec.format ? `Would ${formatAction(spec.format)(device)} and open it as ${mapper}` : `Would open ${device} as ${mapper}`;
  const notThere = await unlessBlockDevice(
    ctx,
    device,
    would,
    spec.format ? { ...formatChanges(spec.format, []), ...openChange } : openChange,
  );
  if (notThere) return notThere;
  if (await isLuks(ctx, device))
    return {
      kind: 'change',
      comment: `Would open ${device} as ${mapper}`,
      changes: openChange,
      data: { device, format: false, destroy: [] },
    };
  if (!spec.format) {
    const held = describeSignatures(await ctx.facts.get(signatures, device));
    if (held) return { kind: 'error', comment: `${device} is not a LUKS device: it holds ${held}` };
    return pending(ctx, `${device} is not a LUKS device`, would, openChange);
  }
  const clear = await clearance(ctx, device, spec.format.force, formatAction(spec.format));
  if (!clear.ok) return { kind: 'error', comment: clear.comment };
  return {
    kind: 'change',
    comment: `${wouldCreate(device, clear.destroy, formatAction(spec.format))} and open it as ${mapper}`,
    changes: { ...formatChanges(spec.format, clear.destroy), ...openChange },
    data: { device, format: true, destroy: clear.destroy },
  };
}

export function applyMapping(spec: MappingSpec, plan: ChangePlan<MappingPlan>, ctx: StateContext): Promise<Outcome> {
  const { device, format: doFormat, destroy } = plan.data;
  const mapper = `/dev/mapper/${spec.name}`;
  return withKey(spec, ctx, async (key) => {
    let done = '';
    if (doFormat) {
      const failed = await format(spec.format!, device, destroy, key, ctx);
      if (failed) return failed;
      done = `Formatted ${device} as ${spec.format!.type.toUpperCase()}`;
    }
    let r = await ctx.runner.run('cryptsetup', luksOpenArgv(spec, device), { stdin: key });
    let opened = done ? `${done} and opened it as ${mapper}` : `Opened ${device} as ${mapper}`;
    let tried = '';
    // cryptsetup exits 2 when no key slot accepts the passphrase. Mid-rotation (luks.key_rotated has not
    // run yet, or stopped before adding the new key) only the previous key opens the volume.
    if (r.exitCode === 2 && !doFormat && spec.previous_key_pillar !== undefined) {
      const previous = spec.previous_key_pillar;
      const retry = await withKey({ key_pillar: previous }, ctx, async (prev) => {
        r = await ctx.runner.run('cryptsetup', luksOpenArgv(spec, device), { stdin: prev });
        return { result: r.exitCode === 0, comment: '', changes: {} };
      });
      if (retry.result) opened += ` with the previous key (from pillar ${previous}): its rotation to the new key has not run yet`;
      else tried = retry.comment ? ` (the previous key: ${retry.comment})` : `, nor the previous key (from pillar ${previous})`;
    }
    if (r.exitCode === 0) return { result: true, comment: opened, changes: plan.changes };
    const why =
      r.exitCode === 2
        ? `Wrong key for ${device} (${keySource(spec)})${tried}: no key slot accepts it`
        : `cryptsetup open ${device} failed: ${r.error ?? r.stderr.trim()}`;
    return {
      result: false,
      comment: done ? `${done}, but could not open it: ${why}` : why,
      changes: done ? formatChanges(spec.format!, destroy) : {},
    };
  });
}

export const OPEN_ARGS = {
  device: { type: 'string', required: true, doc: 'the LUKS device: a path such as /dev/vg0/data, or UUID=…/LABEL=…' },
  ...KEY_ARGS,
  previous_key_pillar: {
    type: 'string',
    doc: 'pillar key holding the passphrase a rotation replaces (luks.key_rotated): tried when the key does not open the device',
  },
  readonly: { type: 'boolean', default: false, doc: 'open read-only' },
  discard: { type: 'boolean', default: false, doc: 'pass TRIM requests through to the device (--allow-discards)' },
} as const satisfies ArgSpecs;

const opened = stateFunction({
  args: OPEN_ARGS,
  validate: keyProblems,
  inspect: (args, ctx) => inspectMapping(args, ctx),
  apply: (args, plan, ctx) => applyMapping(args, plan, ctx),
});

const mapped = stateFunction({
  args: { ...OPEN_ARGS, ...FORMAT_ARGS },
  validate: (args) => [...keyProblems(args), ...formatProblems(args)],
  inspect: (args, ctx) => inspectMapping({ ...args, format: args }, ctx),
  apply: (args, plan, ctx) => applyMapping({ ...args, format: args }, plan, ctx),
});

export async function inspectClosed(name: string, ctx: StateContext): Promise<Plan> {
  const mapper = `/dev/mapper/${name}`;
  const open = MAPPING_NAME.test(name) ? await ctx.facts.get(dmMapping, name) : undefined;
  if (!open) return { kind: 'correct', comment: `${mapper} is not open` };
  if (!open.type.startsWith('LUKS'))
    return { kind: 'error', comment: `${mapper} is not a LUKS mapping (type ${open.type}); not closing it` };
  const would = `Would close ${mapper}`;
  const busy = describeUsage(await ctx.facts.get(deviceUsage, mapper));
  if (busy)
    return pending(
      ctx,
      `cannot close ${mapper}: it is ${busy}; unmount it first (mount.unmounted)`,
      would,
      { closed: mapper },
      `it is ${busy} now; an earlier state must release it`,
    );
  return { kind: 'change', comment: would, changes: { closed: mapper } };
}

export async function applyClosed(name: string, changes: Changes, ctx: StateContext): Promise<Outcome> {
  const r = await ctx.runner.run('cryptsetup', ['close', name]);
  if (r.exitCode !== 0) return { result: false, comment: `cryptsetup close ${name} failed: ${r.error ?? r.stderr.trim()}`, changes: {} };
  return { result: true, comment: `Closed /dev/mapper/${name}`, changes };
}

const closed = stateFunction({
  args: {},
  inspect: (args, ctx) => inspectClosed(args.name, ctx),
  apply: (args, plan, ctx) => applyClosed(args.name, plan.changes, ctx),
});

/** The volume states; luks-keys.ts adds key rotation and makes the module. */
export const luksFunctions = { formatted, opened, mapped, closed };
