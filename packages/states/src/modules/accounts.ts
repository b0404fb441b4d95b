// Local users and groups through the shadow utilities (useradd, usermod, userdel, groupadd,
// groupmod, gpasswd, chpasswd): Salt's user.present, user.absent and group.present
// (salt/states/user.py, group.py), their comments and changes. A password hash is a secret: it
// reaches chpasswd on stdin only, is compared by fingerprint, and shows as Salt's marker.
import {
  fingerprint,
  groups as groupsFact,
  passwordFingerprint,
  user as userFact,
  type GroupInfo,
  type UserInfo,
} from '../facts/accounts.js';
import type { ArgProblem, Changes, Outcome, Plan, StateContext, StateModule } from './types.js';
import { stateFunction } from './types.js';

/** What Salt shows in place of a password hash. */
const PASSWORD_MARKER = 'XXX-REDACTED-XXX';

/** A value as Salt's comments print it (Python's repr of a list). */
const show = (v: unknown): string =>
  Array.isArray(v) ? `[${v.map((x) => `'${String(x)}'`).join(', ')}]` : typeof v === 'boolean' ? (v ? 'True' : 'False') : String(v);

/** Salt's "The following … attributes are set to be changed:" listing. */
const listing = (what: 'user' | 'group', changes: Changes): string =>
  `The following ${what} attributes are set to be changed:\n${Object.entries(changes)
    .map(([k, v]) => `${k}: ${show(v)}\n`)
    .join('')}`;

/** Runs one command; the failed outcome if it failed. */
async function run(ctx: StateContext, what: string, file: string, args: string[], stdin?: Buffer): Promise<Outcome | undefined> {
  const r = await ctx.runner.run(file, args, stdin ? { stdin } : {});
  stdin?.fill(0);
  if (r.exitCode === 0) return undefined;
  return { result: false, comment: `${what}: ${file} failed: ${r.error ?? r.stderr.trim()}`, changes: {} };
}

const sameSet = (a: readonly string[], b: readonly string[]): boolean =>
  a.length === b.length && [...a].sort().join('\n') === [...b].sort().join('\n');

/** A user's supplementary groups: those that list it as a member. */
const memberOf = (all: GroupInfo[], name: string): string[] =>
  all
    .filter((g) => g.members.includes(name))
    .map((g) => g.name)
    .sort();

/** The account as Salt's user.info reports the fields the state manages. */
const userInfo = (u: UserInfo, all: GroupInfo[]) => ({
  name: u.name,
  uid: u.uid,
  gid: u.gid,
  groups: memberOf(all, u.name),
  home: u.home,
  shell: u.shell,
  fullname: u.fullname,
});

interface UserPlan {
  create: boolean;
  /** useradd/usermod options. */
  options: string[];
  password: boolean;
  emptyPassword: boolean;
  /** The account when inspect looked; none when it is created. */
  before?: ReturnType<typeof userInfo>;
}

const present = stateFunction({
  args: {
    uid: { type: 'integer', doc: 'user ID' },
    gid: { type: 'any', doc: 'primary group, by name or number' },
    groups: { type: 'string-list', doc: 'supplementary groups; each must exist' },
    optional_groups: { type: 'string-list', doc: 'supplementary groups, each only if it exists' },
    remove_groups: { type: 'boolean', default: true, doc: 'remove the user from supplementary groups not listed' },
    home: { type: 'string', doc: 'home directory' },
    createhome: { type: 'boolean', default: true, doc: 'create the home directory when creating the user' },
    shell: { type: 'string', doc: 'login shell' },
    fullname: { type: 'string', doc: 'full name (the first GECOS field)' },
    system: { type: 'boolean', default: false, doc: 'create a system account (useradd -r)' },
    password: { type: 'string', doc: 'password hash, as crypt(3) gives it (a secret: never shown)' },
    empty_password: { type: 'boolean', default: false, doc: 'make the password empty (passwd -d)' },
  },
  validate: (args): ArgProblem[] =>
    args.gid === undefined || typeof args.gid === 'string' || (typeof args.gid === 'number' && Number.isInteger(args.gid))
      ? []
      : [{ arg: 'gid', detail: 'gid must be a group name or number' }],
  async inspect(args, ctx): Promise<Plan<UserPlan>> {
    // A comma would start the next GECOS field: Salt refuses it.
    if (args.fullname?.includes(',')) return { kind: 'error', comment: `Unsupported char ',' in ${args.fullname}` };
    const all = await ctx.facts.get(groupsFact);
    const known = (g: string) => all.some((x) => x.name === g);
    const missing = (args.groups ?? []).filter((g) => !known(g));
    const gidName = typeof args.gid === 'string' && !/^\d+$/.test(args.gid) ? args.gid : undefined;
    if (gidName !== undefined && !known(gidName)) missing.push(gidName);
    // In test mode a group.present earlier in the run may create them.
    if (missing.length > 0 && !ctx.test) return { kind: 'error', comment: `The following group(s) are not present: ${missing.join(',')}` };
    const gid = args.gid === undefined ? undefined : gidName ? all.find((g) => g.name === gidName)?.gid : Number(args.gid);
    const wantGroups =
      args.groups === undefined && args.optional_groups === undefined
        ? undefined
        : [...new Set([...(args.groups ?? []), ...(args.optional_groups ?? []).filter(known)])].sort();
    const u = await ctx.facts.get(userFact, args.name);

    if (!u) {
      const options = [
        ...(args.uid !== undefined ? ['-u', String(args.uid)] : []),
        ...(gid !== undefined ? ['-g', String(gid)] : []),
        ...(wantGroups?.length ? ['-G', wantGroups.join(',')] : []),
        ...(args.home !== undefined ? ['-d', args.home] : []),
        args.createhome ? '-m' : '-M',
        ...(args.shell !== undefined ? ['-s', args.shell] : []),
        ...(args.fullname !== undefined ? ['-c', args.fullname] : []),
        ...(args.system ? ['-r'] : []),
      ];
      return {
        kind: 'change',
        comment: `User ${args.name} set to be added`,
        changes: {},
        data: { create: true, options, password: args.password !== undefined && !args.empty_password, emptyPassword: args.empty_password },
      };
    }

    const current = memberOf(all, u.name);
    const changes: Changes = {};
    const options: string[] = [];
    const field = (key: string, flag: string, want: string | number | undefined, now: string | number) => {
      if (want === undefined || want === now) return;
      changes[key] = want;
      options.push(flag, String(want));
    };
    field('uid', '-u', args.uid, u.uid);
    field('gid', '-g', gid, u.gid);
    if (wantGroups) {
      const final = args.remove_groups ? wantGroups : [...new Set([...current, ...wantGroups])].sort();
      if (!sameSet(final, current)) {
        changes['groups'] = wantGroups;
        options.push('-G', final.join(','));
      }
    }
    field('home', '-d', args.home, u.home);
    field('shell', '-s', args.shell, u.shell);
    field('fullname', '-c', args.fullname, u.fullname);
    const shadow = args.password !== undefined || args.empty_password ? await ctx.facts.get(passwordFingerprint, args.name) : undefined;
    const password = args.password !== undefined && !args.empty_password && shadow !== fingerprint(args.password);
    const emptyPassword = args.empty_password && shadow !== '';
    if (password) changes['passwd'] = PASSWORD_MARKER;
    if (emptyPassword) changes['empty_password'] = true;
    if (Object.keys(changes).length === 0) return { kind: 'correct', comment: `User ${args.name} is present and up to date` };
    return {
      kind: 'change',
      comment: listing('user', changes),
      changes: {},
      data: { create: false, options, password, emptyPassword, before: userInfo(u, all) },
    };
  },
  async apply(args, plan, ctx) {
    const { create, options, password, emptyPassword, before } = plan.data;
    if (options.length > 0 || create) {
      const failed = await run(ctx, `User ${args.name}`, create ? 'useradd' : 'usermod', [...options, '--', args.name]);
      if (failed) return failed;
    }
    if (password) {
      // chpasswd -e takes `name:hash` lines on stdin, so the hash is on no command line.
      const failed = await run(ctx, `User ${args.name}`, 'chpasswd', ['-e'], Buffer.from(`${args.name}:${args.password}\n`));
      if (failed) return failed;
    }
    if (emptyPassword) {
      const failed = await run(ctx, `User ${args.name}`, 'passwd', ['-d', '--', args.name]);
      if (failed) return failed;
    }
    const after = await ctx.facts.get(userFact, args.name);
    if (!after) return { result: false, comment: `Failed to create new user ${args.name}`, changes: {} };
    const info: Changes = userInfo(after, await ctx.facts.get(groupsFact));
    if (!before) {
      // As Salt: no home without createhome, and the password as its marker (or empty).
      const created = {
        ...info,
        ...(!args.createhome && { home: '' }),
        ...(password && { password: PASSWORD_MARKER }),
        ...(emptyPassword && { password: '' }),
      };
      return { result: true, comment: `New user ${args.name} created`, changes: created };
    }
    const changes: Changes = Object.fromEntries(
      Object.entries(info).filter(([k, v]) => JSON.stringify(v) !== JSON.stringify(before[k as keyof typeof before])),
    );
    if (password) changes['passwd'] = PASSWORD_MARKER;
    if (emptyPassword) changes['empty_password'] = true;
    return { result: true, comment: `Updated user ${args.name}`, changes };
  },
});

const absent = stateFunction({
  args: {
    purge: { type: 'boolean', default: false, doc: 'also remove the home directory and mail spool (userdel -r)' },
    force: { type: 'boolean', default: false, doc: 'remove the user even while logged in (userdel -f)' },
  },
  async inspect(args, ctx): Promise<Plan<GroupInfo[]>> {
    if (!(await ctx.facts.get(userFact, args.name))) return { kind: 'correct', comment: `User ${args.name} is not present` };
    return { kind: 'change', comment: `User ${args.name} set for removal`, changes: {}, data: await ctx.facts.get(groupsFact) };
  },
  async apply(args, plan, ctx) {
    const before = plan.data;
    const failed = await run(ctx, `User ${args.name}`, 'userdel', [
      ...(args.purge ? ['-r'] : []),
      ...(args.force ? ['-f'] : []),
      '--',
      args.name,
    ]);
    if (failed) return failed;
    // userdel also removes the user's own group; Salt reports each group that went.
    const after = new Set((await ctx.facts.get(groupsFact)).map((g) => g.name));
    const changes: Changes = Object.fromEntries(before.filter((g) => !after.has(g.name)).map((g) => [`${g.name} group`, 'removed']));
    return { result: true, comment: `Removed user ${args.name}`, changes: { ...changes, [args.name]: 'removed' } };
  },
});

interface GroupPlan {
  create: boolean;
  gid: number | undefined;
  /** The member list to set, if it changes. */
  members: string[] | undefined;
  /** Test mode's listing, which is also the comment of an update (Salt). */
  comment: string;
}

/** What still differs from what the state wants, keyed as Salt's group _changes. */
function groupChanges(
  g: GroupInfo,
  want: { gid?: number | undefined; members?: string[] | undefined; addusers?: string[] | undefined; delusers?: string[] | undefined },
): Changes {
  const changes: Changes = {};
  if (want.gid !== undefined && want.gid !== g.gid) changes['gid'] = want.gid;
  if (want.members?.length === 0 && g.members.length > 0) changes['delusers'] = g.members;
  else if (want.members && !sameSet(want.members, g.members)) changes['members'] = want.members;
  const add = (want.addusers ?? []).filter((u) => !g.members.includes(u));
  if (add.length > 0) changes['addusers'] = add;
  const del = (want.delusers ?? []).filter((u) => g.members.includes(u));
  if (del.length > 0) changes['delusers'] = del;
  return changes;
}

const groupPresent = stateFunction({
  args: {
    gid: { type: 'integer', doc: 'group ID' },
    system: { type: 'boolean', default: false, doc: 'create a system group (groupadd -r)' },
    members: { type: 'string-list', doc: 'the members, replacing any others' },
    addusers: { type: 'string-list', doc: 'users to add to the group' },
    delusers: { type: 'string-list', doc: 'users to remove from the group' },
  },
  validate(args): ArgProblem[] {
    if (args.members !== undefined && (args.addusers !== undefined || args.delusers !== undefined))
      return [{ arg: 'members', detail: 'members cannot be combined with addusers or delusers' }];
    const both = (args.addusers ?? []).filter((u) => args.delusers?.includes(u));
    return both.length > 0 ? [{ arg: 'addusers', detail: `the same users cannot be added and deleted: ${both.join(', ')}` }] : [];
  },
  async inspect(args, ctx): Promise<Plan<GroupPlan>> {
    const all = await ctx.facts.get(groupsFact);
    const g = all.find((x) => x.name === args.name);
    if (!g) {
      const taken = args.gid === undefined ? undefined : all.find((x) => x.gid === args.gid);
      if (taken)
        return { kind: 'error', comment: `Group ${args.name} is not present but gid ${args.gid} is already taken by group ${taken.name}` };
      // A new group gets `members`, or `addusers` (Salt).
      const members = args.members?.length ? args.members : args.addusers?.length ? args.addusers : undefined;
      const comment = `Group ${args.name} set to be added`;
      return { kind: 'change', comment, changes: {}, data: { create: true, gid: args.gid, members, comment } };
    }
    const changes = groupChanges(g, args);
    if (Object.keys(changes).length === 0) return { kind: 'correct', comment: `Group ${args.name} is present and up to date` };
    const members =
      changes['members'] || changes['addusers'] || changes['delusers']
        ? (args.members ?? [...new Set([...g.members, ...(args.addusers ?? [])])].filter((u) => !args.delusers?.includes(u)))
        : undefined;
    const comment = listing('group', changes);
    return {
      kind: 'change',
      comment,
      changes: {},
      data: { create: false, gid: changes['gid'] === undefined ? undefined : args.gid, members, comment },
    };
  },
  async apply(args, plan, ctx) {
    const { create, gid, members, comment } = plan.data;
    const what = `Group ${args.name}`;
    const gidOpt = gid !== undefined ? ['-g', String(gid)] : [];
    const failed =
      (create ? await run(ctx, what, 'groupadd', [...gidOpt, ...(args.system ? ['-r'] : []), '--', args.name]) : undefined) ??
      (!create && gid !== undefined ? await run(ctx, what, 'groupmod', [...gidOpt, '--', args.name]) : undefined) ??
      (members !== undefined ? await run(ctx, what, 'gpasswd', ['-M', members.join(','), args.name]) : undefined);
    if (failed) return failed;
    const g = (await ctx.facts.get(groupsFact)).find((x) => x.name === args.name);
    if (!g) return { result: false, comment: `Failed to create new group ${args.name}`, changes: {} };
    // As Salt: the changes that did not take, or its note that all did.
    const left = groupChanges(g, args);
    if (Object.keys(left).length > 0)
      return {
        result: false,
        comment: create
          ? `Group ${args.name} has been created but, some changes could not be applied`
          : `${comment}Some changes could not be applied`,
        changes: { Failed: left },
      };
    if (create)
      return { result: true, comment: `New group ${args.name} created`, changes: { name: g.name, gid: g.gid, members: g.members } };
    return { result: true, comment, changes: { Final: 'All changes applied successfully' } };
  },
});

export const userModule: StateModule = { name: 'user', functions: { present, absent } };
export const groupModule: StateModule = { name: 'group', functions: { present: groupPresent } };
