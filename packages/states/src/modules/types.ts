import type { FactSource } from '../facts/fact.js';
import type { FileServer } from '../host/files.js';
import type { HostFs } from '../host/fs.js';
import type { StateLog } from '../host/log.js';
import type { CommandRunner } from '../host/runner.js';
import type { SecretProvider } from '../host/secrets.js';

/**
 * Argument types a state function can declare; compile checks and converts
 * every argument before anything runs.
 * - `mode`: file mode as Salt takes it (`'0644'`, `644`, `'u=rw'` is not taken) → `'0644'`.
 * - `env`: a mapping, or Salt's list of one-key mappings → `Record<string, string>`.
 * - `string-list`: a list of strings, or one string → `string[]`.
 */
export type ArgType = 'string' | 'integer' | 'boolean' | 'mode' | 'string-list' | 'map' | 'env' | 'any';

export interface ArgSpec {
  type: ArgType;
  required?: boolean;
  default?: unknown;
  /** For `string` arguments: the only values allowed (e.g. `['ext4', 'xfs']`). */
  values?: readonly string[];
  /** One line for docs and error messages. */
  doc: string;
}

export type ArgSpecs = Record<string, ArgSpec>;

/** A problem with a state's arguments; `arg` names the argument it is about, if one. */
export interface ArgProblem {
  arg: string | null;
  detail: string;
}

/** Arguments after compile: every declared argument is present or has its default. */
export type Args = Record<string, unknown> & { name: string };

export type Changes = Record<string, unknown>;

/** What a state function did. */
export interface Outcome {
  result: boolean;
  comment: string;
  changes: Changes;
}

/**
 * What `inspect` found. `correct`: nothing to do. `change`: what `apply` would do,
 * shown as-is in test mode (`changes` are the proposed changes). `error`: the
 * state cannot be brought about (bad input found at run time, say).
 */
export type Plan<D = unknown> =
  | { kind: 'correct'; comment: string }
  | { kind: 'change'; comment: string; changes: Changes; data?: D }
  | { kind: 'error'; comment: string };

export type ChangePlan<D = unknown> = Extract<Plan<D>, { kind: 'change' }>;

/**
 * What a state function gets to work with; nothing else reaches the system. `inspect` reads
 * only through `facts` (and the content sources `files` and `secrets`); `apply` changes the
 * system only through `runner` and `fs`.
 */
export interface StateContext {
  /** True in test mode; only `inspect` is called then, but modules may word comments by it. */
  test: boolean;
  facts: FactSource;
  runner: CommandRunner;
  fs: HostFs;
  log: StateLog;
  /** Pillar values fetched just in time; each is registered for redaction. */
  secrets: SecretProvider;
  files: FileServer;
  /** The state being run, for messages. */
  state: { id: string; sls: string; name: string };
}

/**
 * One state function (e.g. `file.managed`). Inspect reads the system and never
 * changes it, so test mode and idempotence follow: a second run finds
 * everything `correct`. Apply is called only with a `change` plan.
 */
export interface StateFunction<A extends Args = Args, D = unknown> {
  /** Arguments besides `name` (always a string, defaulting to the state ID). */
  args: ArgSpecs;
  /** Accept undeclared arguments too, as Salt's `**kwargs` functions do (test.*). */
  extraArgs?: boolean;
  /**
   * Checks that span arguments (one of `size` or `extents`, say), after each was
   * checked on its own; run at compile time, so a bad state stops the run before anything runs.
   */
  validate?(args: A): ArgProblem[];
  inspect(args: A, ctx: StateContext): Promise<Plan<D>>;
  apply(args: A, plan: ChangePlan<D>, ctx: StateContext): Promise<Outcome>;
  /**
   * Salt's mod_watch: what a `watch`ed change or a `listen` triggers (a service
   * restart, a command re-run). Without it, `watch` behaves as `require`.
   */
  watch?: {
    /** What the action would do, for test mode. */
    describe(args: A): string;
    run(args: A, ctx: StateContext): Promise<Outcome>;
  };
}

export interface StateModule {
  name: string;
  functions: Record<string, StateFunction<never, never>>;
}

/** Declares a function with its own argument type; the cast is safe because compile validated `args`. */
export const stateFunction = <A extends Args, D = unknown>(fn: StateFunction<A, D>): StateFunction<never, never> =>
  fn as unknown as StateFunction<never, never>;
