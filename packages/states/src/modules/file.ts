import { createHash } from 'node:crypto';
import { InputError } from '@brine/common';
import { dirname, normalize, posix } from 'node:path';
import { group, user } from '../facts/accounts.js';
import { fileContent, linkTarget, pathLstat, pathStat } from '../facts/files.js';
import type { FileStat } from '../host/fs.js';
import { deepMerge } from '../merge.js';
import { fileEditFunctions } from './file-edit.js';
import { badPath, describeDiff, managedPath } from './file-common.js';
import { stateFunction, type ArgSpecs, type ArgsOf, type Changes, type Plan, type StateContext, type StateModule } from './types.js';

const OWNERSHIP_ARGS = {
  user: { type: 'string', doc: 'owner (name or uid)' },
  group: { type: 'string', doc: 'group (name or gid)' },
  makedirs: { type: 'boolean', default: false, doc: 'create missing parent directories' },
} as const satisfies ArgSpecs;

type Ownership = Pick<ArgsOf<typeof MANAGED_ARGS>, 'user' | 'group' | 'mode'>;

/** The differences between what is on disk and the wanted owner, group and mode. */
async function attributeChanges(
  ctx: StateContext,
  st: FileStat | undefined,
  want: Ownership,
): Promise<{ changes: Changes; uid?: number; gid?: number } | string> {
  const changes: Changes = {};
  const out: { changes: Changes; uid?: number; gid?: number } = { changes };
  if (want.user !== undefined) {
    const found = await ctx.facts.get(user, want.user);
    if (!found) return `User ${want.user} is not available`;
    out.uid = found.uid;
    if (!st || st.uid !== found.uid) changes['user'] = want.user;
  }
  if (want.group !== undefined) {
    const gid = await ctx.facts.get(group, want.group);
    if (gid === undefined) return `Group ${want.group} is not available`;
    out.gid = gid;
    if (!st || st.gid !== gid) changes['group'] = want.group;
  }
  if (want.mode !== undefined && (!st || st.mode !== parseInt(want.mode, 8))) changes['mode'] = want.mode;
  return out;
}

/**
 * Where new content comes from, read only when a state runs; rendered when `template` says so.
 * `secret`: it holds pillar secrets (contents_pillar, `contents` rendered from one, or a template read one), so no diff shows it.
 */
async function wantedContent(
  args: ArgsOf<typeof MANAGED_ARGS>,
  ctx: StateContext,
): Promise<{ content: Buffer | undefined; secret: boolean } | string> {
  const given = [args.source, args.contents, args.contents_pillar].filter((v) => v !== undefined).length;
  if (given > 1) return 'Only one of source, contents and contents_pillar may be given';
  // A secret is written as fetched: a template could transform it past redaction.
  if (args.template !== undefined && args.contents_pillar !== undefined) return 'template cannot be used with contents_pillar';
  let content: Buffer | undefined;
  if (args.source !== undefined) content = await ctx.files.read(args.source);
  else if (args.contents !== undefined) content = Buffer.from(args.contents.join('\n'), 'utf8');
  else if (args.contents_pillar !== undefined) content = await ctx.secrets.fetch(args.contents_pillar);
  if (content && args.source === undefined && args.contents_newline && content.length > 0 && content[content.length - 1] !== 0x0a) {
    const withNewline = Buffer.concat([content, Buffer.from('\n')]);
    content.fill(0);
    content = withNewline;
  }
  if (content && args.source_hash !== undefined && !args.skip_verify) {
    const mismatch = hashMismatch(args.source_hash, content);
    if (mismatch) {
      content.fill(0);
      return mismatch;
    }
  }
  if (content && args.template !== undefined) return renderContent(args, ctx, content);
  // A secret fetched, or one a template read into `contents` (the old content may hold an older one).
  const secret = args.contents_pillar !== undefined || args.contents?.some((line) => ctx.holdsSecret(line)) === true;
  return { content, secret };
}

/** Salt's names for where a `salt://` template is (salt/utils/templates.py): `tplfile`, `tpldir`, `tpldot`. */
function templatePlace(source: string | undefined): Record<string, string> {
  if (!source?.startsWith('salt://')) return {};
  const tplfile = posix.normalize(source.slice('salt://'.length));
  const dir = posix.dirname(tplfile);
  return { tplfile, tpldir: dir, tpldot: dir === '.' ? '' : dir.replace(/\//g, '.') };
}

/**
 * Salt's get_managed: `defaults` with `context` merged over it, and the state's own arguments,
 * are the names the template sees besides grains, pillar, salt and opts.
 */
function renderContent(args: ArgsOf<typeof MANAGED_ARGS>, ctx: StateContext, text: Buffer): { content: Buffer; secret: boolean } | string {
  const vars = {
    ...templatePlace(args.source),
    name: args.name,
    source: args.source ?? null,
    user: args.user ?? null,
    group: args.group ?? null,
    mode: args.mode ?? null,
    saltenv: 'base',
    ...deepMerge(args.defaults ?? {}, args.context ?? {}),
  };
  const file = args.source ?? `<${args.name} contents>`;
  try {
    const rendered = ctx.templates.render(text.toString('utf8'), file, ctx.state.sls, vars);
    return { content: Buffer.from(rendered.text, 'utf8'), secret: rendered.readSecret };
  } catch (err) {
    // Salt's words; the message names the template, its line and what went wrong.
    if (err instanceof InputError) return `Unable to manage file: ${err.message}`;
    throw err;
  } finally {
    text.fill(0);
  }
}

/**
 * What `changes.diff` says of content about to be written: Salt's words, but no diff of content
 * holding secrets (the old content may hold older ones, never registered for redaction).
 * `before`: the content on disk, when it differs.
 */
function contentDiff(
  args: ArgsOf<typeof MANAGED_ARGS>,
  how: { isNew: boolean; secret: boolean; before: Buffer | undefined; content: Buffer | undefined },
): string {
  if (how.isNew) return 'New file';
  if (!args.show_changes) return '<show_changes=False>';
  if (how.secret) return '<not shown: the content holds pillar secrets>';
  // Otherwise the content is right and a symlink is to be replaced (follow_symlinks: False).
  return how.before && how.content ? describeDiff(how.before, how.content, args.name) : 'Replace symbolic link with regular file';
}

interface ManagedPlan {
  /** Where the content goes: `name`, or the file its symlinks lead to. */
  path: string;
  content: Buffer | undefined;
  writeContent: boolean;
  uid?: number;
  gid?: number;
  mode: number;
}

const MANAGED_ARGS = {
  source: { type: 'string', doc: 'salt://path in the file roots, or an absolute local path' },
  contents: { type: 'string-list', doc: 'the content itself (a list is joined with newlines)' },
  contents_pillar: { type: 'string', doc: 'pillar key (a:b:c) whose value is the content, fetched only when the state runs' },
  contents_newline: { type: 'boolean', default: true, doc: 'end contents/contents_pillar with a newline' },
  mode: { type: 'mode', doc: "file mode, e.g. '0640' (default 0644 for new files)" },
  ...OWNERSHIP_ARGS,
  replace: { type: 'boolean', default: true, doc: 'replace the content of an existing file' },
  show_changes: { type: 'boolean', default: true, doc: 'show a diff of the content in changes' },
  source_hash: { type: 'string', doc: "the source's digest: <hex> or <algo>=<hex> (md5, sha1, sha256, sha512); checked before writing" },
  skip_verify: { type: 'boolean', default: false, doc: 'do not check source_hash' },
  backup: {
    type: 'string',
    values: [''],
    doc: "Salt's backup mode; only '' (none): Brine keeps no copies of managed files, which may hold secrets",
  },
  template: { type: 'string', values: ['jinja'], doc: 'render the source or contents as a Jinja template on the minion' },
  defaults: { type: 'map', doc: 'template variables' },
  context: { type: 'map', doc: 'template variables, merged over defaults' },
  follow_symlinks: { type: 'boolean', default: true, doc: 'manage the file a symlink at name points to; False replaces the symlink' },
} as const satisfies ArgSpecs;

const DIGEST_BY_LENGTH: Record<number, string> = { 32: 'md5', 40: 'sha1', 64: 'sha256', 128: 'sha512' };

/** Why `content` does not match `source_hash` (Salt's forms: `<hex>` or `<algo>=<hex>`), or undefined. */
function hashMismatch(spec: string, content: Buffer): string | undefined {
  const m = /^(?:(md5|sha1|sha224|sha256|sha384|sha512)=)?([0-9a-fA-F]+)$/.exec(spec.trim());
  const algo = m && (m[1] ?? DIGEST_BY_LENGTH[m[2]!.length]);
  if (!m || !algo)
    return `source_hash '${spec}' is not <hex> or <algo>=<hex> (md5, sha1, sha256, sha512; a URL of a hash file is not supported)`;
  const got = createHash(algo).update(content).digest('hex');
  return got === m[2]!.toLowerCase() ? undefined : `Specified ${algo} checksum ${m[2]} does not match the source (${got})`;
}

const managed = stateFunction({
  args: MANAGED_ARGS,
  async inspect(args, ctx): Promise<Plan<ManagedPlan>> {
    const bad = badPath(args.name);
    if (bad) return { kind: 'error', comment: bad };
    const where = await managedPath(ctx, args.name, args.follow_symlinks);
    if (typeof where === 'string') return { kind: 'error', comment: where };
    const { path } = where;
    const st = await ctx.facts.get(pathStat, path);
    if (st?.type === 'directory') return { kind: 'error', comment: `Specified target ${args.name} is a directory` };
    if (!st && !args.makedirs && !(await ctx.facts.get(pathStat, dirname(path)))) {
      return { kind: 'error', comment: `Parent directory not present for ${path} (set makedirs: True to create it)` };
    }
    const wanted = await wantedContent(args, ctx);
    if (typeof wanted === 'string') return { kind: 'error', comment: wanted };
    const { content } = wanted;
    const attrs = await attributeChanges(ctx, st, args);
    if (typeof attrs === 'string') return { kind: 'error', comment: attrs };
    const changes = attrs.changes;
    const before = st && content && args.replace ? await ctx.facts.get(fileContent, path) : undefined;
    const differs = before !== undefined && content !== undefined && !before.equals(content);
    // follow_symlinks: False puts the file in the symlink's place (Salt compares no content then).
    const replaceLink = where.replaceLink && args.replace && content !== undefined;
    const writeContent = !st || differs || replaceLink;
    if (writeContent)
      changes['diff'] = contentDiff(args, { isNew: !st, secret: wanted.secret, before: differs ? before : undefined, content });
    before?.fill(0);
    if (Object.keys(changes).length === 0) {
      content?.fill(0);
      return { kind: 'correct', comment: `File ${args.name} is in the correct state` };
    }
    if (ctx.test) content?.fill(0);
    // A new file gets 0644 unless told otherwise; a rewritten one keeps its mode and owner.
    const mode = args.mode !== undefined ? parseInt(args.mode, 8) : st ? st.mode : 0o644;
    const data: ManagedPlan = { path, content, writeContent, mode, uid: attrs.uid ?? st?.uid, gid: attrs.gid ?? st?.gid };
    return { kind: 'change', comment: `The file ${args.name} is set to be changed`, changes, data };
  },
  async apply(args, plan, ctx) {
    const { path, content, writeContent, mode, uid, gid } = plan.data;
    try {
      if (args.makedirs) await ctx.fs.mkdir(dirname(path), { recursive: true, mode: 0o755 });
      if (writeContent) await ctx.fs.replaceFile(path, content ?? Buffer.alloc(0), { mode, uid, gid });
      else {
        if (uid !== undefined || gid !== undefined) await ctx.fs.chown(path, uid, gid);
        await ctx.fs.chmod(path, mode);
      }
    } finally {
      content?.fill(0);
    }
    return { result: true, comment: `File ${args.name} updated`, changes: plan.changes };
  },
});

const directory = stateFunction({
  args: {
    dir_mode: { type: 'mode', doc: "directory mode, e.g. '0755'" },
    mode: { type: 'mode', doc: 'same as dir_mode' },
    ...OWNERSHIP_ARGS,
  },
  async inspect(args, ctx): Promise<Plan<{ uid: number | undefined; gid: number | undefined; exists: boolean }>> {
    const bad = badPath(args.name);
    if (bad) return { kind: 'error', comment: bad };
    const st = await ctx.facts.get(pathStat, args.name);
    if (st && st.type !== 'directory') return { kind: 'error', comment: `Specified location ${args.name} exists and is a file` };
    if (!st && !args.makedirs && !(await ctx.facts.get(pathStat, dirname(args.name)))) {
      return { kind: 'error', comment: `No directory to create ${args.name} in (set makedirs: True to create parents)` };
    }
    const attrs = await attributeChanges(ctx, st, { ...args, mode: args.dir_mode ?? args.mode });
    if (typeof attrs === 'string') return { kind: 'error', comment: attrs };
    const changes: Changes = st ? attrs.changes : { [args.name]: 'New Dir', ...attrs.changes };
    if (Object.keys(changes).length === 0) return { kind: 'correct', comment: `The directory ${args.name} is in the correct state` };
    const comment = st ? `The directory ${args.name} is set to be updated` : `The directory ${args.name} is set to be created`;
    return { kind: 'change', comment, changes, data: { uid: attrs.uid, gid: attrs.gid, exists: !!st } };
  },
  async apply(args, plan, ctx) {
    const { uid, gid } = plan.data;
    const mode = args.dir_mode ?? args.mode;
    await ctx.fs.mkdir(args.name, { recursive: args.makedirs, mode: mode !== undefined ? parseInt(mode, 8) : 0o755 });
    if (uid !== undefined || gid !== undefined) await ctx.fs.chown(args.name, uid, gid);
    // mkdir's mode is cut by the umask; set it exactly.
    if (mode !== undefined) await ctx.fs.chmod(args.name, parseInt(mode, 8));
    return { result: true, comment: `Directory ${args.name} updated`, changes: plan.changes };
  },
});

const absent = stateFunction({
  args: {},
  async inspect(args, ctx): Promise<Plan<{ isDir: boolean }>> {
    const bad = badPath(args.name);
    if (bad) return { kind: 'error', comment: bad };
    const st = await ctx.facts.get(pathLstat, args.name);
    if (!st) return { kind: 'correct', comment: `File ${args.name} is not present` };
    return {
      kind: 'change',
      comment: `File ${args.name} is set for removal`,
      changes: { removed: args.name },
      data: { isDir: st.type === 'directory' },
    };
  },
  async apply(args, plan, ctx) {
    await ctx.fs.remove(args.name);
    return { result: true, comment: `Removed ${plan.data.isDir ? 'directory' : 'file'} ${args.name}`, changes: plan.changes };
  },
});

const SYMLINK_ARGS = {
  target: { type: 'string', required: true, doc: 'what the symlink points to' },
  force: { type: 'boolean', default: false, doc: 'replace a file or directory where the symlink should be' },
  ...OWNERSHIP_ARGS,
} as const satisfies ArgSpecs;

interface SymlinkPlan {
  /** What is there now and must go first: a file or a directory (a symlink is replaced in one rename). */
  clear?: 'file' | 'directory';
  mkdirs: boolean;
  uid?: number;
  gid?: number;
}

/** Salt's file.symlink (salt/states/file.py symlink and _symlink_check), its words where it has them. */
const symlinkFn = stateFunction({
  args: SYMLINK_ARGS,
  async inspect(args, ctx): Promise<Plan<SymlinkPlan>> {
    const { name, target } = args;
    const bad = badPath(name);
    if (bad) return { kind: 'error', comment: bad };
    const st = await ctx.facts.get(pathLstat, name);
    const owner = await attributeChanges(ctx, st, { user: args.user, group: args.group, mode: undefined });
    if (typeof owner === 'string') return { kind: 'error', comment: owner };
    const ids = { uid: owner.uid, gid: owner.gid };
    const parent = await ctx.facts.get(pathStat, dirname(name));
    if (!parent && !args.makedirs) return { kind: 'error', comment: `Directory ${dirname(name)} for symlink is not present` };
    const mkdirs = !parent;
    if (!st)
      return {
        kind: 'change',
        comment: `Symlink ${name} to ${target} is set for creation`,
        changes: { new: name },
        data: { mkdirs, ...ids },
      };
    if (st.type === 'symlink') {
      const now = await ctx.facts.get(linkTarget, name);
      if (now !== undefined && normalize(now) === normalize(target)) {
        if (Object.keys(owner.changes).length === 0) {
          const by =
            args.user !== undefined || args.group !== undefined ? ` and owned by ${args.user ?? st.uid}:${args.group ?? st.gid}` : '';
          return { kind: 'correct', comment: `Symlink ${name} is present${by}` };
        }
        return {
          kind: 'change',
          comment: `Ownership of symlink ${name} is set to be changed`,
          changes: { ownership: `${args.user ?? ''}:${args.group ?? ''}` },
          data: { mkdirs, ...ids },
        };
      }
      return {
        kind: 'change',
        comment: `Link ${name} target is set to be changed to ${target}`,
        changes: { change: name },
        data: { mkdirs, ...ids },
      };
    }
    const kind = st.type === 'directory' ? 'Directory' : 'File';
    if (!args.force) return { kind: 'error', comment: `${kind} exists where the symlink ${name} should be` };
    return {
      kind: 'change',
      comment: `The file or directory ${name} is set for removal to make way for a new symlink targeting ${target}`,
      changes: { new: name },
      data: { clear: st.type === 'directory' ? 'directory' : 'file', mkdirs, ...ids },
    };
  },
  async apply(args, plan, ctx) {
    const { name, target } = args;
    if (plan.data.mkdirs) await ctx.fs.mkdir(dirname(name), { recursive: true, mode: 0o755 });
    // A directory cannot be renamed over; a file or symlink is replaced in the symlink's own rename.
    if (plan.data.clear === 'directory') await ctx.fs.remove(name);
    await ctx.fs.symlink(target, name, { uid: plan.data.uid, gid: plan.data.gid });
    if ('ownership' in plan.changes)
      return { result: true, comment: `Set ownership of symlink ${name} to ${args.user ?? ''}:${args.group ?? ''}`, changes: plan.changes };
    return { result: true, comment: `Created new symlink ${name} -> ${target}`, changes: { new: name } };
  },
});

export const fileModule: StateModule = {
  name: 'file',
  functions: { managed, directory, absent, symlink: symlinkFn, ...fileEditFunctions },
};
