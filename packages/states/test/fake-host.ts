// Stand-ins for host/ and facts/ in unit tests: a scripted command runner, a file system that
// records what apply does to it, and facts served from a fixture.
import type { Fact, FactParams, FactSource } from '../src/facts/fact.js';
import type { FileStat, HostFs } from '../src/host/fs.js';
import type { CommandOptions, CommandResult, CommandRunner } from '../src/host/runner.js';
import { Redactor } from '../src/redact.js';
import { fileTemplates, type FileTemplates } from '../src/render/file-template.js';

export interface FakeCall {
  file: string;
  args: readonly string[];
  opts: CommandOptions;
}

/** A scripted command runner: every command succeeds with no output unless `answer` says otherwise. */
export class FakeRunner implements CommandRunner {
  readonly calls: FakeCall[] = [];
  constructor(private readonly answer: (call: FakeCall) => Partial<CommandResult> = () => ({})) {}

  async run(file: string, args: readonly string[], opts: CommandOptions = {}): Promise<CommandResult> {
    const call = { file, args, opts };
    this.calls.push(call);
    return { exitCode: 0, stdout: '', stderr: '', pid: 4242, ...this.answer(call) };
  }
}

/**
 * A file system with nothing on it, except the `files` it is given (path → content, for
 * stat/readFile), that records each change apply makes as one line in `ops`.
 */
export class FakeFs implements HostFs {
  constructor(
    private readonly files: Record<string, FileStat & { content?: string }> = {},
    readonly ops: string[] = [],
  ) {}

  async stat(path: string) {
    const f = this.files[path];
    return f && { type: f.type, mode: f.mode, uid: f.uid, gid: f.gid, rdev: f.rdev };
  }
  async readFile(path: string) {
    const content = this.files[path]?.content;
    return content === undefined ? undefined : Buffer.from(content);
  }
  async readHead(path: string, bytes: number) {
    return ((await this.readFile(path)) ?? Buffer.alloc(0)).subarray(0, bytes);
  }
  async readdir() {
    return [];
  }
  home() {
    return '/root';
  }
  async replaceFile(path: string, content: Buffer, attrs: { mode: number; uid?: number | undefined; gid?: number | undefined }) {
    const owner = attrs.uid !== undefined || attrs.gid !== undefined ? ` owner ${attrs.uid ?? '-'}:${attrs.gid ?? '-'}` : '';
    this.ops.push(`write ${path} mode ${attrs.mode.toString(8).padStart(4, '0')}${owner}: ${JSON.stringify(content.toString('utf8'))}`);
  }
  async mkdir(path: string, opts: { recursive: boolean; mode: number }) {
    this.ops.push(`mkdir${opts.recursive ? ' -p' : ''} ${path} mode ${opts.mode.toString(8).padStart(4, '0')}`);
  }
  async chown(path: string, uid: number | undefined, gid: number | undefined) {
    this.ops.push(`chown ${uid ?? '-'}:${gid ?? '-'} ${path}`);
  }
  async chmod(path: string, mode: number) {
    this.ops.push(`chmod ${mode.toString(8).padStart(4, '0')} ${path}`);
  }
  async remove(path: string) {
    this.ops.push(`rm -rf ${path}`);
  }
  async readlink() {
    return undefined;
  }
  async symlink(target: string, path: string, owner: { uid?: number | undefined; gid?: number | undefined }) {
    const own = owner.uid !== undefined || owner.gid !== undefined ? ` owner ${owner.uid ?? '-'}:${owner.gid ?? '-'}` : '';
    this.ops.push(`ln -sfn ${target} ${path}${own}`);
  }
}

/** How a fixture keys a fact's value: its name and parameters, space-separated. */
export const factKey = (name: string, params: FactParams): string => [name, ...params].join(' ');

/**
 * A fact value as JSON holds it: `null` is no value (a missing file, an unknown user),
 * `{"$error": "…"}` a fact whose reading fails with that message, `{"utf8": "…"}` /
 * `{"hex": "…"}` bytes; anything else is the value itself.
 */
export function decodeValue(value: unknown): unknown {
  if (value === null) return undefined;
  if (value && typeof value === 'object' && !Array.isArray(value)) {
    const v = value as Record<string, unknown>;
    if (typeof v['$error'] === 'string') throw new Error(v['$error']);
    if (typeof v['utf8'] === 'string') return Buffer.from(v['utf8'], 'utf8');
    if (typeof v['hex'] === 'string') return Buffer.from(v['hex'], 'hex');
  }
  return value;
}

/** Facts from a fixture; a fact the fixture does not give fails, so a fixture lists every fact a state reads. */
export function fixtureFacts(facts: Record<string, unknown>, read: string[] = []): FactSource {
  return {
    async get<P extends FactParams, T, R>(fact: Fact<P, T, R>, ...params: P): Promise<T> {
      const key = factKey(fact.name, params);
      if (!Object.hasOwn(facts, key)) throw new Error(`the fixture gives no fact '${key}'`);
      read.push(key);
      return decodeValue(structuredClone(facts[key])) as T;
    },
  };
}

/** File templates rendered with the given pillar and grains (no file roots), as a run renders them. */
export const fixtureTemplates = (pillar: Record<string, unknown> = {}, grains: Record<string, unknown> = {}): FileTemplates =>
  fileTemplates({ roots: [], pillar, grains, opts: {}, redactor: new Redactor() });
