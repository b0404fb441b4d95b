// Debian packages through apt-get and dpkg: Salt's pkg.installed, latest, removed and purged
// (salt/states/pkg.py with salt/modules/aptpkg.py), their comments and their changes, which are
// what dpkg lists differently after the command: {pkg: {old, new}}, dependencies included.
import { byCodePoint } from '@brine/common';
import { APT_ENV, aptPolicy, aptUpdate, dpkgPackages, type DpkgPackages } from '../facts/packages.js';
import type { ArgProblem, ArgSpec, Changes, Plan, StateContext, StateModule } from './types.js';
import { stateFunction } from './types.js';

/** A package wanted, with its version if one is pinned. */
interface Wanted {
  name: string;
  version: string | undefined;
}

const PKGS_ARG = {
  type: 'any',
  doc: 'packages to act on instead of name: a list of names, or of {name: version} mappings',
} as const satisfies ArgSpec;

const COMMON_ARGS = {
  pkgs: PKGS_ARG,
  refresh: { type: 'boolean', default: false, doc: 'run apt-get update first' },
  fromrepo: { type: 'string', doc: 'the release to take packages from (apt-get -t)' },
  skip_verify: { type: 'boolean', default: false, doc: 'install packages apt cannot authenticate' },
} as const satisfies Record<string, ArgSpec>;

/** `pkgs` as Salt takes it: names, or one-key mappings of a name to a version. */
function parsePkgs(pkgs: unknown): Wanted[] | undefined {
  if (!Array.isArray(pkgs) || pkgs.length === 0) return undefined;
  const out: Wanted[] = [];
  for (const item of pkgs) {
    if (typeof item === 'string') out.push({ name: item, version: undefined });
    else if (typeof item === 'object' && item !== null && !Array.isArray(item) && Object.keys(item).length === 1) {
      const [name, version] = Object.entries(item)[0]!;
      if (typeof version !== 'string' && typeof version !== 'number' && version !== null) return undefined;
      out.push({ name, version: version === null ? undefined : String(version) });
    } else return undefined;
  }
  return out;
}

const validatePkgs = (args: { pkgs?: unknown }): ArgProblem[] =>
  args.pkgs === undefined || parsePkgs(args.pkgs)
    ? []
    : [{ arg: 'pkgs', detail: 'pkgs must be a list of package names or of {name: version} mappings' }];

const wanted = (args: { name: string; pkgs?: unknown; version?: string | undefined }): Wanted[] =>
  parsePkgs(args.pkgs) ?? [{ name: args.name, version: args.version }];

/** `name=version` when a version is pinned, as Salt names desired packages. */
const desired = (w: Wanted): string => (w.version ? `${w.name}=${w.version}` : w.name);

/** What apply acts on, and the packages installed when inspect looked (the changes are the difference). */
interface Targets {
  targets: Wanted[];
  before: Record<string, string>;
}

const installedPackages = (ctx: StateContext): Promise<DpkgPackages> => ctx.facts.get(dpkgPackages);

/** What differs between two package lists, as Salt's compare_dicts: {pkg: {old, new}}. */
function diff(before: Record<string, string>, after: Record<string, string>): Changes {
  const changes: Changes = {};
  for (const name of [...new Set([...Object.keys(before), ...Object.keys(after)])].sort())
    if (before[name] !== after[name]) changes[name] = { old: before[name] ?? '', new: after[name] ?? '' };
  return changes;
}

interface AptOptions {
  refresh: boolean;
  fromrepo?: string | undefined;
  skip_verify: boolean;
}

/** Runs apt-get (after apt-get update if asked); the reason if either failed. */
async function aptGet(ctx: StateContext, opts: AptOptions, args: string[]): Promise<string | undefined> {
  const failed = opts.refresh ? await aptUpdate(ctx.runner) : undefined;
  if (failed) return failed;
  const r = await ctx.runner.run(
    'apt-get',
    [
      '-y',
      '-q',
      '-o',
      'DPkg::Options::=--force-confold',
      ...(opts.fromrepo ? ['-t', opts.fromrepo] : []),
      ...(opts.skip_verify ? ['--allow-unauthenticated'] : []),
      ...args,
    ],
    { env: APT_ENV },
  );
  return r.exitCode === 0 ? undefined : (r.error ?? (r.stderr.trim() || r.stdout.trim()));
}

/** Package versions are compared as dpkg writes them: a pinned version is the installed one or not. */
const satisfied = (w: Wanted, installed: Record<string, string>): boolean =>
  installed[w.name] !== undefined && (w.version === undefined || installed[w.name] === w.version);

const installed = stateFunction({
  args: {
    ...COMMON_ARGS,
    version: { type: 'string', doc: 'the exact version to install (ignored with pkgs)' },
  },
  validate: validatePkgs,
  async inspect(args, ctx): Promise<Plan<Targets>> {
    const want = wanted(args);
    const { installed: now } = await installedPackages(ctx);
    const targets = want.filter((w) => !satisfied(w, now));
    if (targets.length === 0) {
      const single = args.pkgs === undefined && args.version !== undefined;
      const pinned = want.some((w) => w.version !== undefined);
      return {
        kind: 'correct',
        comment: single
          ? `Version ${args.version} of package '${args.name}' is already installed`
          : `All specified packages are already installed${pinned ? ' and are at the desired version' : ''}`,
      };
    }
    return {
      kind: 'change',
      comment: `The following packages would be installed/updated: ${targets.map(desired).join(', ')}`,
      changes: Object.fromEntries(targets.map((w) => [w.name, { new: 'installed', old: '' }])),
      data: { targets, before: now },
    };
  },
  async apply(args, plan, ctx) {
    const { targets, before } = plan.data;
    // A pinned version older than the installed one is installed too, as Salt does.
    const downgrade = targets.some((w) => w.version !== undefined && before[w.name] !== undefined);
    const error = await aptGet(ctx, args, ['install', ...(downgrade ? ['--allow-downgrades'] : []), '--', ...targets.map(desired)]);
    const after = (await installedPackages(ctx)).installed;
    const changes = diff(before, after);
    if (error) return { result: false, comment: `An error was encountered while installing package(s): ${error}`, changes };
    const failed = targets.filter((w) => !satisfied(w, after));
    if (failed.length > 0)
      return { result: false, comment: `The following packages failed to install/update: ${failed.map(desired).join(', ')}`, changes };
    // Salt names the packages only while the list is short.
    const summary = targets.map(desired).join(', ');
    const n = targets.length;
    const comment =
      summary.length < 20
        ? `The following packages were installed/updated: ${summary}`
        : `${n} targeted package${n > 1 ? 's' : ''} ${n > 1 ? 'were' : 'was'} installed/updated.`;
    return { result: true, comment, changes };
  },
});

const latest = stateFunction({
  args: COMMON_ARGS,
  validate: validatePkgs,
  async inspect(args, ctx): Promise<Plan<Targets>> {
    const names = wanted(args).map((w) => w.name);
    const policy = await ctx.facts.get(aptPolicy, args.refresh ? 'refresh' : 'cached', args.fromrepo ?? '', ...names);
    const { installed: now } = await installedPackages(ctx);
    const unknown = names.filter((n) => !policy[n]?.candidate && now[n] === undefined);
    if (unknown.length > 0) return { kind: 'error', comment: unknown.map((n) => `No information found for '${n}'.`).join(' ') };
    const targets = names
      .filter((n) => policy[n]?.candidate && policy[n].candidate !== now[n])
      .map((n) => ({ name: n, version: policy[n]!.candidate! }));
    const upToDate = names.filter((n) => !targets.some((t) => t.name === n)).sort();
    if (targets.length === 0) {
      const comment =
        names.length > 10
          ? `All ${names.length} packages are up-to-date.`
          : names.length > 1
            ? `All packages are up-to-date (${upToDate.join(', ')}).`
            : `Package ${names[0]} is already up-to-date`;
      return { kind: 'correct', comment };
    }
    const already =
      upToDate.length === 0
        ? []
        : upToDate.length <= 10
          ? [`The following packages are already up-to-date: ${upToDate.map((n) => `${n} (${now[n]})`).join(', ')}`]
          : [`${upToDate.length} packages are already up-to-date`];
    return {
      kind: 'change',
      comment: [`The following packages would be installed/upgraded: ${targets.map((t) => t.name).join(', ')}`, ...already].join('\n'),
      changes: {},
      data: { targets, before: now },
    };
  },
  async apply(args, plan, ctx) {
    const { targets, before } = plan.data;
    const names = wanted(args).map((w) => w.name);
    // The candidates were found after any refresh inspect did: apt-get update is not run again.
    const error = await aptGet(ctx, { ...args, refresh: false }, ['install', '--', ...targets.map(desired)]);
    const after = (await installedPackages(ctx)).installed;
    const changes = diff(before, after);
    if (error) return { result: false, comment: `An error was encountered while installing package(s): ${error}`, changes };
    const failed = targets.filter((t) => !satisfied(t, after)).map((t) => t.name);
    const done = targets.filter((t) => satisfied(t, after)).map((t) => t.name);
    const upToDate = names.filter((n) => !targets.some((t) => t.name === n)).sort();
    const comments = [
      ...(failed.length > 0 ? [`The following packages failed to update: ${failed.join(', ')}`] : []),
      ...(done.length > 0 ? [`The following packages were successfully installed/upgraded: ${done.join(', ')}`] : []),
      ...(upToDate.length === 0
        ? []
        : [
            upToDate.length <= 10
              ? `The following packages were already up-to-date: ${upToDate.join(', ')}`
              : `${upToDate.length} packages were already up-to-date`,
          ]),
    ];
    return { result: failed.length === 0, comment: comments.join(' '), changes };
  },
});

/** pkg.removed and pkg.purged: Salt's _uninstall. */
const uninstall = (action: 'remove' | 'purge') => {
  /** What the action acts on: purge also clears packages whose configuration files remain. */
  const forAction = (p: DpkgPackages) => (action === 'purge' ? { ...p.configFiles, ...p.installed } : p.installed);
  return stateFunction({
    args: {
      pkgs: PKGS_ARG,
      version: { type: 'string', doc: 'act only if this version is the one installed (ignored with pkgs)' },
    },
    validate: validatePkgs,
    async inspect(args, ctx): Promise<Plan<Targets>> {
      const want = wanted(args);
      const now = await installedPackages(ctx);
      const targets = want
        .filter((w) => satisfied(w, now.installed) || (action === 'purge' && now.configFiles[w.name] !== undefined))
        .sort((a, b) => byCodePoint(a.name, b.name));
      if (targets.length === 0) {
        const pinned = want.some((w) => w.version !== undefined);
        return { kind: 'correct', comment: `All specified packages${pinned ? ' (matching specified versions)' : ''} are already absent` };
      }
      return {
        kind: 'change',
        comment: `The following packages will be ${action}d: ${targets.map((w) => w.name).join(', ')}.`,
        changes: Object.fromEntries(targets.map((w) => [w.name, { new: `${action}d`, old: '' }])),
        data: { targets, before: forAction(now) },
      };
    },
    async apply(args, plan, ctx) {
      const { before } = plan.data;
      const targets = plan.data.targets.map((w) => w.name);
      const error = await aptGet(ctx, { refresh: false, skip_verify: false }, [action, '--', ...targets]);
      const after = forAction(await installedPackages(ctx));
      const changes = diff(before, after);
      if (error) return { result: false, comment: `An error was encountered while removing package(s): ${error}`, changes };
      const failed = targets.filter((n) => after[n] !== undefined);
      if (failed.length > 0)
        return { result: false, comment: `The following packages failed to ${action}: ${failed.join(', ')}.`, changes };
      const notInstalled = wanted(args)
        .map((w) => w.name)
        .filter((n) => !targets.includes(n))
        .sort();
      const comment =
        notInstalled.length > 0
          ? `The following packages were not installed: ${notInstalled.join(', ')} The following packages were ${action}d: ${targets.join(', ')}.`
          : `All targeted packages were ${action}d.`;
      return { result: true, comment, changes };
    },
  });
};

export const pkgModule: StateModule = {
  name: 'pkg',
  functions: { installed, latest, removed: uninstall('remove'), purged: uninstall('purge') },
};
