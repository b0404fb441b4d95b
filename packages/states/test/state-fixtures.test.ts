// Every state function driven by facts given as data, pyinfra style: one folder per function
// under fixtures/states/<module>.<function>/, one JSON file per case.
//
//   doc       what the case shows
//   args      the state's arguments as an SLS gives them (defaults are filled in as compile does)
//   test      test mode (inspect only)
//   pillar    the pillar secrets are fetched from and file templates see
//   grains    the grains file templates see
//   facts     "<fact name> <params…>" → the parsed value (see fake-host.ts for bytes and errors)
//   plan      what inspect returns: kind, comment, changes
//   applyFacts facts that differ when apply reads them (a service that started, a signature that
//             appeared since inspect)
//   results   "<argv>" → what a command apply runs returns (default: exit 0, no output)
//   commands  what apply does, in order: the commands it runs (`<stdin` marks input fed to the
//             command) and the file system changes it makes (write, mkdir, chown, chmod, rm)
//   outcome   what apply returns
//   after     facts that differ once apply has run: inspect must then find the state correct
//
// Inspect must read only facts: it runs no command and changes no file. Run with
// FIXTURES_RECORD=1 to fill in plan/commands/outcome from what the code does now, then
// read the diff: a fixture says what the state should do, not what it happens to do.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { localFileServer } from '../src/host/files.js';
import type { CommandOptions } from '../src/host/runner.js';
import { pillarSecretProvider } from '../src/host/secrets.js';
import { validateArgs } from '../src/modules/args.js';
import { builtinModules } from '../src/modules/builtin.js';
import { findFunction } from '../src/modules/registry.js';
import type { Args, Plan, StateContext, StateFunction } from '../src/modules/types.js';
import { FakeFs, FakeRunner, fixtureFacts, fixtureTemplates, type FakeCall } from './fake-host.js';

interface Fixture {
  /** What the case shows. */
  doc: string;
  args: Record<string, unknown>;
  test?: boolean;
  pillar?: Record<string, unknown>;
  grains?: Record<string, unknown>;
  facts: Record<string, unknown>;
  plan: Record<string, unknown>;
  applyFacts?: Record<string, unknown>;
  results?: Record<string, { exitCode?: number; stdout?: string; stderr?: string }>;
  commands?: string[];
  outcome?: Record<string, unknown>;
  after?: Record<string, unknown>;
}

const ROOT = fileURLToPath(new URL('fixtures/states', import.meta.url));
const RECORD = process.env['FIXTURES_RECORD'] === '1';

const argv = (call: Pick<FakeCall, 'file' | 'args'>) => [call.file, ...call.args].join(' ');

/** A command as fixtures write it: argv, then the options that matter, then `<stdin` if it was fed input. */
function describeCall(call: FakeCall): string {
  const { stdin, env, ...rest } = call.opts as CommandOptions;
  const opts = { ...rest, ...(env && Object.keys(env).length > 0 && { env }) };
  return `${argv(call)}${Object.keys(opts).length > 0 ? ` ${JSON.stringify(opts)}` : ''}${stdin ? ' <stdin' : ''}`;
}

/** A context whose runner and file system log what is done to them, in order, in `done`. */
function context(fixture: Fixture, facts: Record<string, unknown>): { ctx: StateContext; runner: FakeRunner; done: string[] } {
  const done: string[] = [];
  const runner = new FakeRunner((call) => {
    done.push(describeCall(call));
    return fixture.results?.[argv(call)] ?? {};
  });
  const quiet = () => undefined;
  const ctx: StateContext = {
    test: fixture.test ?? false,
    facts: fixtureFacts(facts),
    runner,
    fs: new FakeFs({}, done),
    log: { debug: quiet, info: quiet, warn: quiet, error: quiet },
    secrets: pillarSecretProvider(fixture.pillar ?? {}),
    files: localFileServer([]),
    templates: fixtureTemplates(fixture.pillar, fixture.grains),
    holdsSecret: () => false,
    state: { id: 'fixture', sls: 'fixtures', name: String(fixture.args['name']) },
  };
  return { ctx, runner, done };
}

const planOf = (plan: Plan) => ({ kind: plan.kind, comment: plan.comment, ...(plan.kind === 'change' && { changes: plan.changes }) });

const functions = readdirSync(ROOT).sort();

describe.each(functions)('%s', (dir) => {
  const [module, fun] = dir.split('.') as [string, string];
  const fn = findFunction(builtinModules, module, fun) as unknown as StateFunction<Args>;
  const cases = readdirSync(join(ROOT, dir))
    .filter((f) => f.endsWith('.json'))
    .sort();

  it.each(cases)('%s', async (file) => {
    const path = join(ROOT, dir, file);
    const fixture = JSON.parse(readFileSync(path, 'utf8')) as Fixture;
    const { name, ...given } = fixture.args;
    const { args: checked, problems } = validateArgs(fn.args, given, fn.extraArgs ?? false);
    expect(problems).toEqual([]);
    const args = { ...checked, name };
    expect(fn.validate?.(args as Args) ?? []).toEqual([]);

    const { ctx, runner, done } = context(fixture, fixture.facts);
    const plan = await fn.inspect(args as Args, ctx);
    expect(done, 'inspect runs no command and changes no file').toEqual([]);
    const got: Partial<Fixture> = { plan: planOf(plan) };
    if (plan.kind === 'change' && !ctx.test) {
      ctx.facts = fixtureFacts({ ...fixture.facts, ...fixture.applyFacts });
      got.outcome = { ...(await fn.apply(args as Args, plan, ctx)) };
      got.commands = done;
      // A key or other secret fed to a command is wiped once the command is done with it.
      for (const call of runner.calls)
        expect(call.opts.stdin?.every((b) => b === 0) ?? true, `stdin of ${argv(call)} is zeroed`).toBe(true);
    }
    if (RECORD) {
      const { plan: _p, commands: _c, outcome: _o, after, ...given } = fixture;
      writeFileSync(path, `${JSON.stringify({ ...given, ...got, ...(after && { after }) }, null, 2)}\n`);
      return;
    }
    expect(got).toEqual({ plan: fixture.plan, ...(got.outcome && { outcome: fixture.outcome, commands: fixture.commands ?? [] }) });

    if (fixture.after) {
      const again = await fn.inspect(args as Args, context(fixture, { ...fixture.facts, ...fixture.after }).ctx);
      expect(again, 'inspect after apply finds nothing to do').toMatchObject({ kind: 'correct' });
    }
  });
});

it('every state function has fixtures', () => {
  const all = [...builtinModules.values()].flatMap((m) => Object.keys(m.functions).map((f) => `${m.name}.${f}`));
  expect(all.filter((f) => !functions.includes(f))).toEqual([]);
});
