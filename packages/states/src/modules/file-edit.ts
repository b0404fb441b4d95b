// Salt's file.replace and file.line (salt/states/file.py; the editing itself in
// salt/modules/file.py replace, line and _set_line): the whole file is read in inspect, the
// edited text is the plan, and apply writes it in one rename, so a second run finds nothing to do.
import { dirname } from 'node:path';
import { fileContent, pathStat } from '../facts/files.js';
import type { FileStat } from '../host/fs.js';
import { pyFlags, PyRegexError, pySubn, pythonRegExp } from '../py-regex.js';
import { badPath, describeDiff, managedPath } from './file-common.js';
import { stateFunction, type ArgProblem, type Plan, type StateContext, type StateFunction } from './types.js';

/** Why file.line cannot place its line, in Salt's words. */
class LineError extends Error {}

interface EditPlan {
  path: string;
  before: Buffer | undefined;
  after: Buffer;
  /** Keep the old content at `path + backup` (file.replace's `.bak`). */
  backup: string | undefined;
  mode: number;
  uid?: number;
  gid?: number;
}

interface EditSpec {
  name: string;
  show_changes: boolean;
  /**
   * The texts the edit writes (repl, content): one that holds a pillar secret hides the diff,
   * whose old lines may hold an older secret never registered for redaction, and keeps no backup.
   */
  writes: readonly (string | undefined)[];
  /** Salt's test-mode comment of the function. */
  wouldChange: string;
  /** What a missing file is: Salt's "No changes needed" (ignore_if_missing), an empty one to create, or an error. */
  missing: 'ignore' | 'create' | 'error';
  backup?: string;
  binary?: string;
  /** The edited text, or why it cannot be edited. */
  edit(text: string): string;
}

const NO_CHANGES = 'No changes needed to be made';
/** As file.managed says it of content that holds pillar secrets. */
const SECRET_DIFF = '<not shown: the content holds pillar secrets>';

/** Reads `name` (through its symlinks, as Salt's realpath), edits its text and plans the write. */
async function planEdit(ctx: StateContext, spec: EditSpec): Promise<Plan<EditPlan>> {
  const bad = badPath(spec.name);
  if (bad) return { kind: 'error', comment: bad };
  const where = await managedPath(ctx, spec.name, true);
  if (typeof where === 'string') return { kind: 'error', comment: where };
  const { path } = where;
  const st: FileStat | undefined = await ctx.facts.get(pathStat, path);
  if (st && st.type !== 'file') return { kind: 'error', comment: `${spec.name} is not a file` };
  if (!st) {
    if (spec.missing === 'ignore') return { kind: 'correct', comment: NO_CHANGES };
    if (spec.missing === 'error' || !(await ctx.facts.get(pathStat, dirname(path))))
      return { kind: 'error', comment: `${spec.name}: file not found` };
  }
  const before = st ? await ctx.facts.get(fileContent, path) : undefined;
  if (spec.binary && before?.includes(0)) return { kind: 'error', comment: `${spec.binary}: ${spec.name}` };
  let text: string;
  try {
    text = spec.edit(before?.toString('utf8') ?? '');
  } catch (err) {
    if (err instanceof PyRegexError || err instanceof LineError) return { kind: 'error', comment: err.message };
    throw err;
  }
  const after = Buffer.from(text, 'utf8');
  if (st && before?.equals(after)) {
    before.fill(0);
    after.fill(0);
    return { kind: 'correct', comment: NO_CHANGES };
  }
  const { diff, backup } = describe(spec, ctx, before, after);
  const data: EditPlan = { path, before, after, backup, mode: st?.mode ?? 0o644, uid: st?.uid, gid: st?.gid };
  // Test mode writes nothing: the contents, which may hold secrets, are not kept.
  if (ctx.test) {
    before?.fill(0);
    after.fill(0);
  }
  return { kind: 'change', comment: spec.wouldChange, changes: { diff }, data };
}

/** The change as reported (a diff, hidden when the edit writes a secret) and whether a backup is kept. */
function describe(spec: EditSpec, ctx: StateContext, before: Buffer | undefined, after: Buffer) {
  const secret = spec.writes.some((t) => t !== undefined && ctx.holdsSecret(t));
  const diff = !spec.show_changes ? true : secret ? SECRET_DIFF : describeDiff(before ?? Buffer.alloc(0), after, spec.name);
  return { diff, backup: secret ? undefined : spec.backup };
}

async function applyEdit(ctx: StateContext, plan: EditPlan): Promise<void> {
  const { path, before, after, backup, mode, uid, gid } = plan;
  try {
    if (backup && before) await ctx.fs.replaceFile(`${path}${backup}`, before, { mode, uid, gid });
    await ctx.fs.replaceFile(path, after, { mode, uid, gid });
  } finally {
    // The file may hold secrets: its old and new contents are not kept in memory.
    before?.fill(0);
    after.fill(0);
  }
}

const escapePy = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** A problem with a pattern or flags at compile time, so a bad one stops the run before anything runs. */
function regexProblem(arg: string, check: () => unknown): ArgProblem[] {
  try {
    check();
    return [];
  } catch (err) {
    if (err instanceof PyRegexError) return [{ arg, detail: `${arg}: ${err.message}` }];
    throw err;
  }
}

const replace = stateFunction({
  args: {
    pattern: { type: 'string', required: true, doc: "a Python regular expression, searched with Python's re.search rules" },
    repl: { type: 'string', required: true, doc: 'the replacement (\\1, \\g<name> refer to groups)' },
    count: { type: 'integer', default: 0, doc: 'replace at most this many matches; 0: all' },
    flags: { type: 'any', default: 8, doc: 'Python re flags: an int (8: MULTILINE), a name or a list (IGNORECASE, MULTILINE, DOTALL)' },
    bufsize: { type: 'any', default: 1, doc: 'accepted and ignored: the file is read whole' },
    append_if_not_found: { type: 'boolean', default: false, doc: 'append the content when the pattern is not found' },
    prepend_if_not_found: { type: 'boolean', default: false, doc: 'prepend the content when the pattern is not found' },
    not_found_content: { type: 'string', doc: 'what to append or prepend (default: repl, as written)' },
    backup: { type: 'any', default: '.bak', doc: 'keep the old content at name + this suffix on change; False: none' },
    show_changes: { type: 'boolean', default: true, doc: 'a diff in changes; False: diff is True' },
    ignore_if_missing: { type: 'boolean', default: false, doc: 'a missing file is no change, not a failure' },
  },
  validate(args) {
    const problems = regexProblem('flags', () => pyFlags(args.flags));
    if (problems.length === 0) problems.push(...regexProblem('pattern', () => pythonRegExp(args.pattern, pyFlags(args.flags))));
    if (args.append_if_not_found && args.prepend_if_not_found)
      problems.push({ arg: null, detail: 'Only one of append and prepend_if_not_found is permitted' });
    if (args.backup !== false && typeof args.backup !== 'string')
      problems.push({ arg: 'backup', detail: "backup must be a suffix such as '.bak', or False" });
    return problems;
  },
  inspect(args, ctx) {
    return planEdit(ctx, {
      name: args.name,
      show_changes: args.show_changes,
      writes: [args.repl, args.not_found_content],
      wouldChange: 'Changes would have been made',
      missing: args.ignore_if_missing ? 'ignore' : 'error',
      backup: typeof args.backup === 'string' && args.backup !== '' ? args.backup : undefined,
      binary: 'Cannot perform string replacements on a binary file',
      edit(text) {
        const flags = pyFlags(args.flags);
        const replaced = pySubn(pythonRegExp(args.pattern, flags), text, args.repl, args.count);
        if (replaced.n > 0 || !(args.append_if_not_found || args.prepend_if_not_found)) return replaced.text;
        // Salt looks for the content itself first, so what an earlier run added is not added again.
        const content = args.not_found_content ?? args.repl;
        if (pythonRegExp(`^${escapePy(content)}($|(?=\r\n))`, flags).test(text)) return text;
        if (args.prepend_if_not_found) return `${content}\n${text}`;
        return `${text}${text === '' || text.endsWith('\n') ? '' : '\n'}${content}\n`;
      },
    });
  },
  async apply(_args, plan, ctx) {
    await applyEdit(ctx, plan.data);
    return { result: true, comment: 'Changes were made', changes: plan.changes };
  },
});

interface Line {
  text: string;
  /** `\n` or `\r\n`; empty on a last line without one. */
  eol: string;
}

export interface LineEdit {
  mode: 'ensure' | 'replace' | 'insert' | 'delete';
  content?: string | undefined;
  match?: string | undefined;
  location?: 'start' | 'end' | undefined;
  before?: string | undefined;
  after?: string | undefined;
  indent: boolean;
}

const splitLines = (text: string): Line[] =>
  (text.match(/[^\n]*\n|[^\n]+$/g) ?? []).map((l) => {
    const eol = /\r?\n$/.exec(l)?.[0] ?? '';
    return { text: l.slice(0, l.length - eol.length), eol };
  });

/**
 * Salt's _set_line on a file's lines. Each of `match`, `before`, `after` finds the lines it is
 * found in, as a Python regular expression (DOTALL) or as plain text. Unlike Salt, `insert`
 * adds nothing where the line next to its place already is the content (Salt inserts it again
 * on every run with `location`, or with both `before` and `after`).
 */
export function editLines(text: string, e: LineEdit): string {
  const lines = splitLines(text);
  const content = e.content ?? '';
  const match = e.match || (e.before === undefined && e.after === undefined ? e.content : undefined);
  const find = (pattern: string | undefined): number[] => {
    if (!pattern || lines.length === 0) return [];
    let re: RegExp;
    try {
      re = pythonRegExp(pattern, 's');
    } catch (err) {
      throw new PyRegexError(`${(err as Error).message}: '${pattern}'`);
    }
    return lines.flatMap((l, i) => (re.test(l.text) || l.text.includes(pattern) ? [i] : []));
  };
  const once = (found: number[], what: string): number => {
    if (found.length > 1) throw new LineError(`Found more than expected occurrences in "${what}" expression`);
    return found[0]!;
  };
  // Salt's _set_line_indent: the content, stripped, takes the whitespace the reference line starts with.
  const indented = (ref: Line | undefined): string => (e.indent && ref ? `${/^[ \t]*/.exec(ref.text)![0]}${content.trimStart()}` : content);
  const fileEol = lines.find((l) => l.eol)?.eol ?? '\n';
  const insert = (at: number, line: string) => {
    const last = lines.at(-1);
    if (at === lines.length && last && !last.eol) {
      last.eol = fileEol;
      lines.push({ text: line, eol: '' });
    } else lines.splice(at, 0, { text: line, eol: fileEol });
  };
  const isLine = (l: Line | undefined, line: string) => l !== undefined && (l.text === line || l.text === content);
  const before = find(e.before);
  const after = find(e.after);

  if (e.mode === 'delete') {
    const [first] = find(match);
    if (first === undefined) return text;
    const gone = lines[first]!.text;
    return join(lines.filter((l) => l.text !== gone));
  }
  if (e.mode === 'replace') {
    const [first] = find(match);
    if (first !== undefined) lines[first]!.text = indented(lines[first]);
  } else if (e.mode === 'insert') {
    if (e.location === 'start') {
      const line = content.trimEnd();
      if (!isLine(lines[0], line)) insert(0, line);
    } else if (e.location === 'end') {
      const line = indented(lines.at(-1));
      if (!isLine(lines.at(-1), line)) insert(lines.length, line);
    } else if (e.before === undefined && e.after === undefined) {
      throw new LineError('On insert either "location" or "before/after" conditions are required.');
    } else if (before.length > 0) {
      const at = once(before, 'before');
      if (after.length > 0) once(after, 'after');
      const line = indented(lines[at]);
      if (!isLine(lines[at - 1], line)) insert(at, line);
    } else if (after.length > 0) {
      const at = once(after, 'after');
      const line = indented(lines[at]);
      if (!isLine(lines[at + 1], line)) insert(at + 1, line);
    } else throw new LineError('Neither before or after was found in file');
  } else if (before.length > 0 && after.length > 0) {
    const a = once(after, 'after');
    const b = once(before, 'before');
    const line = indented(lines[a]);
    const between = lines.slice(a + 1, b);
    if (b === a + 1) insert(b, line);
    else if (b === a + 2) lines[a + 1]!.text = line;
    else if (!between.some((l) => l.text.trimStart() === content.trimStart()))
      throw new LineError('Found more than one line between boundaries "before" and "after".');
  } else if (before.length > 0) {
    const at = once(before, 'before');
    const line = indented(lines[at - 1] ?? lines[at]);
    if (!isLine(lines[at - 1], line)) insert(at, line);
  } else if (after.length > 0) {
    const at = once(after, 'after');
    const line = indented(lines[at]);
    if (!isLine(lines[at + 1], line)) insert(at + 1, line);
  } else throw new LineError('Wrong conditions? Unable to ensure line without knowing where to put it before and/or after.');
  return join(lines);
}

const join = (lines: readonly Line[]): string => lines.map((l) => l.text + l.eol).join('');

const line = stateFunction({
  args: {
    content: { type: 'string', doc: 'the line (not needed with mode: delete)' },
    match: { type: 'string', doc: 'the line to act on: a Python regular expression or a part of it (default: content)' },
    mode: { type: 'string', values: ['ensure', 'replace', 'insert', 'delete'], doc: 'what to do with the line' },
    location: { type: 'string', values: ['start', 'end'], doc: 'insert: at the start or end of the file (before/after ignored)' },
    before: { type: 'string', doc: 'the line goes before the one line this finds (regular expression or part of it)' },
    after: { type: 'string', doc: 'the line goes after the one line this finds (regular expression or part of it)' },
    show_changes: { type: 'boolean', default: true, doc: 'a diff in changes; False: diff is True' },
    backup: { type: 'boolean', default: false, doc: "Salt's backup; only False: Brine keeps no timestamped copies" },
    indent: { type: 'boolean', default: true, doc: 'indent the line as the line it is placed by' },
    create: { type: 'boolean', default: false, doc: 'create the file if it is missing' },
  },
  validate(args) {
    const problems: ArgProblem[] = [];
    if (args.mode === undefined) problems.push({ arg: 'mode', detail: 'Mode was not defined. How to process the file?' });
    else if (args.mode !== 'delete' && args.content === undefined)
      problems.push({ arg: 'content', detail: 'Content can only be empty if mode is "delete"' });
    if (args.backup) problems.push({ arg: 'backup', detail: 'backup: True is not supported: Brine keeps no timestamped copies of files' });
    return problems;
  },
  inspect(args, ctx) {
    const { mode, content, match, location, before, after, indent } = args;
    return planEdit(ctx, {
      name: args.name,
      show_changes: args.show_changes,
      writes: [content],
      wouldChange: 'Changes would be made',
      missing: args.create ? 'create' : 'error',
      edit: (text) => editLines(text, { mode: mode!, content, match, location, before, after, indent }),
    });
  },
  async apply(_args, plan, ctx) {
    await applyEdit(ctx, plan.data);
    return { result: true, comment: 'Changes were made', changes: plan.changes };
  },
});

export const fileEditFunctions: Record<string, StateFunction> = { replace, line };
