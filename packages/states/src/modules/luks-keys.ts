// luks.key_rotated: replaces a LUKS passphrase with a new one, both held in pillar. The order of
// the steps is what makes a crash at any moment harmless: the new key is added to a free key slot
// (authorised by the previous key), then shown to open the volume, and only then is the previous
// key's slot killed, with cryptsetup checking once more that the new key opens another slot. At
// every instant one of the two keys the pillar holds opens the volume, and a re-run picks up from
// what it finds. Keys reach cryptsetup on stdin only; their buffers are zeroed after each command.
import { luksKeySlot, type KeySlot } from '../facts/luks.js';
import { KDF_ARGS, kdfProblems, luksFunctions, option, withKey } from './luks.js';
import { pending, resolveDevice, unlessBlockDevice } from './storage.js';
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

const ROTATE_ARGS = {
  device: { type: 'string', doc: 'the LUKS device: a path, or UUID=…/LABEL=…; the state name if not given' },
  key_pillar: { type: 'string', required: true, doc: 'pillar key (a:b:c) holding the new passphrase' },
  previous_key_pillar: { type: 'string', doc: 'pillar key holding the passphrase being replaced (drop it once the rotation is done)' },
  ...KDF_ARGS,
} as const satisfies ArgSpecs;

type RotateArgs = ArgsOf<typeof ROTATE_ARGS>;

interface RotatePlan {
  device: string;
  /** The slot the previous key opens now, to be killed. */
  previous: number;
  /** False when the new key opens a slot already (a run that stopped after adding it). */
  add: boolean;
}

function rotateProblems(args: RotateArgs): ArgProblem[] {
  const problems: ArgProblem[] = [];
  if (args.previous_key_pillar === args.key_pillar)
    problems.push({ arg: 'previous_key_pillar', detail: 'previous_key_pillar names the same pillar key as key_pillar' });
  return [...problems, ...kdfProblems(args)];
}

const slotOf = (k: KeySlot): number | null => ('slot' in k ? k.slot : null);

/** cryptsetup's arguments to add a key: stdin holds the previous key (its first `previousBytes` bytes), then the new one. */
export function luksAddKeyArgv(args: RotateArgs, device: string, previousBytes: number): string[] {
  return [
    'luksAddKey',
    ...option('--pbkdf', args.pbkdf),
    ...option('--pbkdf-force-iterations', args.pbkdf_force_iterations),
    '--key-file=-',
    `--keyfile-size=${previousBytes}`,
    '--new-keyfile=-',
    device,
  ];
}

/**
 * cryptsetup's arguments to kill `slot`, authorised by the key on stdin. Never --batch-mode: without
 * it cryptsetup refuses unless that key opens a slot other than the one killed.
 */
export const luksKillSlotArgv = (device: string, slot: number): string[] => ['luksKillSlot', '--key-file=-', device, String(slot)];

async function inspectRotation(args: RotateArgs, ctx: StateContext): Promise<Plan<RotatePlan>> {
  const spec = args.device ?? args.name;
  const newKey = `the new key (pillar ${args.key_pillar})`;
  const prevKey = `the previous key (pillar ${args.previous_key_pillar})`;
  const NewKey = `The new key (pillar ${args.key_pillar})`;
  const would = `Would rotate the LUKS key of ${spec} to ${newKey}`;
  const device = await resolveDevice(ctx, spec);
  if (device === undefined) return pending(ctx, `no device has ${spec}`, would, { added: 'a free key slot' });
  const notThere = await unlessBlockDevice(ctx, device, would, { added: 'a free key slot' });
  if (notThere) return notThere;

  const next = await ctx.facts.get(luksKeySlot, device, args.key_pillar);
  if ('unavailable' in next) return { kind: 'error', comment: `No new LUKS key: ${next.unavailable}` };
  const prev: KeySlot =
    args.previous_key_pillar === undefined ? { slot: null } : await ctx.facts.get(luksKeySlot, device, args.previous_key_pillar);
  const prevSlot = slotOf(prev);

  if (next.slot !== null) {
    if ('unavailable' in prev)
      return {
        kind: 'correct',
        comment: `${device} opens with ${newKey} in key slot ${next.slot} (the previous key was not tried: ${prev.unavailable})`,
      };
    if (prevSlot === null)
      return { kind: 'correct', comment: `${device} opens with ${newKey} in key slot ${next.slot}, and not with the previous key` };
    if (prevSlot === next.slot)
      return {
        kind: 'error',
        comment: `${NewKey} and ${prevKey} open the same key slot ${next.slot} of ${device}: they hold the same passphrase; nothing was changed`,
      };
    return {
      kind: 'change',
      comment: `Would remove key slot ${prevSlot} of ${device}, which ${prevKey} opens; ${newKey} opens key slot ${next.slot}`,
      changes: { removed: `key slot ${prevSlot}` },
      data: { device, previous: prevSlot, add: false },
    };
  }
  if (args.previous_key_pillar === undefined)
    return { kind: 'error', comment: `${NewKey} does not open ${device}, and no previous_key_pillar was given to add it with` };
  if ('unavailable' in prev)
    return { kind: 'error', comment: `${NewKey} does not open ${device}, and ${prevKey} is not available: ${prev.unavailable}` };
  if (prevSlot === null)
    return { kind: 'error', comment: `Neither ${newKey} nor ${prevKey} opens ${device}; its LUKS header was left as it is` };
  return {
    kind: 'change',
    comment: `Would add ${newKey} to a free key slot of ${device}, authorised by ${prevKey}, then remove key slot ${prevSlot}`,
    changes: { added: 'a free key slot', removed: `key slot ${prevSlot}` },
    data: { device, previous: prevSlot, add: true },
  };
}

const failed = (comment: string, changes: Changes = {}): Outcome => ({ result: false, comment, changes });

/** luksAddKey with both keys on one stdin: the previous key's bytes, then the new key's; every buffer is zeroed after. */
function addKey(args: RotateArgs, device: string, ctx: StateContext): Promise<Outcome | undefined> {
  return withKey({ key_pillar: args.previous_key_pillar! }, ctx, (previous) =>
    withKey({ key_pillar: args.key_pillar }, ctx, async (key) => {
      const both = Buffer.concat([previous, key]);
      try {
        const r = await ctx.runner.run('cryptsetup', luksAddKeyArgv(args, device, previous.length), { stdin: both });
        if (r.exitCode === 0) return { result: true, comment: '', changes: {} };
        return failed(`cryptsetup luksAddKey ${device} failed (${r.error ?? r.stderr.trim()}); the previous key still opens it`);
      } finally {
        both.fill(0);
      }
    }),
  ).then((o) => (o.result ? undefined : o));
}

async function applyRotation(args: RotateArgs, plan: RotatePlan, ctx: StateContext): Promise<Outcome> {
  const { device } = plan;
  const newKey = `the new key (pillar ${args.key_pillar})`;
  const NewKey = `The new key (pillar ${args.key_pillar})`;
  if (plan.add) {
    const refused = await addKey(args, device, ctx);
    if (refused) return refused;
  }
  const added: Changes = plan.add ? { added: 'a key slot' } : {};
  // Nothing is removed until the new key is seen to open the volume, from another slot than the previous key's.
  const check = await ctx.facts.get(luksKeySlot, device, args.key_pillar);
  const opens = slotOf(check);
  if (opens === null || opens === plan.previous) {
    const why =
      'unavailable' in check
        ? `could not check that ${newKey} opens ${device} (${check.unavailable})`
        : `${NewKey} does not open ${device}${plan.add ? ' after it was added' : ' any more'}`;
    return failed(`${why[0]!.toUpperCase()}${why.slice(1)}; key slot ${plan.previous} (the previous key's) was kept`, added);
  }
  if (plan.add) added['added'] = `key slot ${opens}`;
  const removed: number[] = [];
  // A previous key held in several slots loses each; cryptsetup names the first it opens.
  for (let slot: number | null = plan.previous; slot !== null && slot !== opens && !removed.includes(slot); ) {
    const kill = await withKey({ key_pillar: args.key_pillar }, ctx, async (key) => {
      const r = await ctx.runner.run('cryptsetup', luksKillSlotArgv(device, slot!), { stdin: key });
      if (r.exitCode === 0) return { result: true, comment: '', changes: {} };
      return failed(
        `cryptsetup luksKillSlot ${device} ${slot} failed (${r.error ?? r.stderr.trim()}); key slot ${slot} (the previous key's) was kept: run the state again`,
      );
    });
    if (!kill.result) return { ...kill, changes: { ...added, ...(removed.length > 0 && { removed: slotList(removed) }) } };
    removed.push(slot);
    slot = slotOf(await ctx.facts.get(luksKeySlot, device, args.previous_key_pillar!));
  }
  const changes = { ...added, removed: slotList(removed) };
  const did = plan.add ? `added ${newKey} in key slot ${opens}` : `${newKey} opens key slot ${opens}`;
  return { result: true, comment: `Rotated the LUKS key of ${device}: ${did}; removed ${slotList(removed)} (the previous key's)`, changes };
}

const slotList = (slots: number[]): string => `key slot${slots.length > 1 ? 's' : ''} ${slots.join(', ')}`;

const keyRotated = stateFunction({
  args: ROTATE_ARGS,
  validate: rotateProblems,
  inspect: (args, ctx): Promise<Plan<RotatePlan>> => inspectRotation(args, ctx),
  apply: (args, plan, ctx) => applyRotation(args, plan.data, ctx),
});

/** The luks module: luks.ts has the volume states; this file adds key rotation. */
export const luksModule: StateModule = { name: 'luks', functions: { ...luksFunctions, key_rotated: keyRotated } };
