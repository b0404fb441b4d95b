import type { FactSource } from '../facts/fact.js';
import type { FileServer } from '../host/files.js';
import type { HostFs } from '../host/fs.js';
import type { StateLog } from '../host/log.js';
import type { CommandRunner } from '../host/runner.js';
import type { SecretProvider } from '../host/secrets.js';
import type { FileTemplates } from '../render/file-template.js';

/**
 * Argument types a state function can declare; compile checks and converts
 * every argument before anything runs.
 * - `mode`: file mode as Salt takes it (`'0644'`, `644`, `'u=rw'` is not taken) → `'0644'`.
 * - `env`: a mapping, or Salt's list of one-key mappings → `Record<string, string>`.
 * - `string-list`: a list of strings, or one string → `string[]`.
 */
export type ArgType = 'string' | 'integer' | 'boolean' | 'mode' | 'string-list' | 'integer-list' | 'map' | 'env' | 'any';

export interface ArgSpec {
  type: ArgType;
  required?: boolean;
  default?: unknown;
  /** For `string` arguments: the only values allowed (e.g. `['ext4', 'xfs']`). */
  values?: readonly string[];
  /** One line for docs and error messages. */
  doc: string;
}

export type ArgSpecs = { readonly [key: string]: ArgSpec };

/** What each argument type is after compile converted it (see `coerceArg`). */
interface ArgValues {
  string: string;
  integer: number;
  boolean: boolean;
  mode: string;
  'string-list': string[];
  'integer-list': number[];
  map: Record<string, unknown>;
  env: Record<string, string>;
  any: unknown;
}

/** A `string` with `values` is one of them; every other type is looked up in `ArgValues`. */
type ArgValue<S extends ArgSpec> = S extends { type: 'string'; values: readonly (infer V)[] } ? V : ArgValues[S['type']];

/** Arguments compile always fills in: required ones and those with a default. */
type FilledKeys<S extends ArgSpecs> = { [K in keyof S]: S[K] extends { required: true } | { default: unknown } ? K : never }[keyof S];

/**
 * The arguments a function gets, inferred from its specs (declare them `as const` or inline in
 * `stateFunction`), as `ConfigOf` in common/config-file.ts infers a config from its option specs.
 */
export type ArgsOf<S extends ArgSpecs> = { name: string } & { -readonly [K in FilledKeys<S>]: ArgValue<S[K]> } & {
  -readonly [K in Exclude<keyof S, FilledKeys<S>>]?: ArgValue<S[K]>;
};

/** A problem with a state's arguments; `arg` names the argument it is about, if one. */
export interface ArgProblem {
  arg: string | null;
  detail: string;
  /** A required argument that was not given (Salt: "Missing parameter <arg> for state <fun>"). */
  missing?: string;
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
 * shown as-is in test mode (`changes` are the proposed changes), with what apply needs
 * to do it (`data`, of the function's own type D). `error`: the state cannot be brought
 * about (bad input found at run time, say).
 */
export type Plan<D = unknown> = { kind: 'correct'; comment: string } | ChangePlan<D> | ForecastPlan | { kind: 'error'; comment: string };

interface Change {
  kind: 'change';
  comment: string;
  changes: Changes;
}

/** A change apply carries out; `data` may be left out only by functions that have none. */
export type ChangePlan<D = unknown> = Change & (undefined extends D ? { data?: D } : { data: D });

/**
 * Test mode only: what would change once an earlier state in the run has brought about what
 * this one needs (see storage.ts `pending`). It has no `data`, and apply never gets it.
 */
export type ForecastPlan = Change & { forecast: true };

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
  /** Renders file templates with the run's grains, pillar and opts (pillar reads redacted as in SLS files). */
  templates: FileTemplates;
  /** The state being run, for messages. */
  state: { id: string; sls: string; name: string };
  /** Whether a text holds a pillar secret the run redacts (one read under a secret's name, or fetched). */
  holdsSecret(text: string): boolean;
}

/**
 * One state function (e.g. `file.managed`). Inspect reads the system and never
 * changes it, so test mode and idempotence follow: a second run finds
 * everything `correct`. Apply is called only with a `change` plan, never a forecast.
 * A: its arguments (`ArgsOf` its specs); D: what its change plans carry from inspect to apply.
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
  functions: Record<string, StateFunction>;
}

/**
 * Declares a function whose argument type is inferred from its specs. The engine holds every
 * function as a plain `StateFunction`: compile validated the arguments against these same specs,
 * and apply gets back the plan this function's own inspect made.
 */
export const stateFunction = <const S extends ArgSpecs, D = undefined>(fn: StateFunction<ArgsOf<S>, D> & { args: S }): StateFunction =>
  fn as StateFunction;
