import { stateFunction, type Outcome, type Plan, type StateFunction, type StateModule } from './types.js';

/**
 * Salt's `test` states: fixed outcomes for trying out requisites, ordering and
 * output without touching the system. Like Salt's, they take any argument and
 * their watch action reports "Watch statement fired.".
 */

const PRETEND = { testing: { old: 'Unchanged', new: 'Something pretended to change' } };

const watch = {
  describe: () => 'Watch statement would fire',
  run: async (): Promise<Outcome> => ({ result: true, comment: 'Watch statement fired.', changes: { watch: true } }),
};

/**
 * One of Salt's fixed test states (salt/states/test.py): `comment` replaces the default one, as in
 * Salt; `tested` is the comment Salt gives in test mode instead, where it has one.
 */
function fixed(outcome: { result: boolean; changes: boolean; comment: string; tested?: string }): StateFunction {
  return stateFunction({
    args: { comment: { type: 'string', doc: `the comment to return (default: ${outcome.comment})` } },
    extraArgs: true,
    async inspect(args, ctx): Promise<Plan> {
      // A change plan's comment is what test mode shows; the run itself reports `comment`.
      const comment = (ctx.test || outcome.changes) && outcome.tested !== undefined ? outcome.tested : (args.comment ?? outcome.comment);
      if (outcome.changes) return { kind: 'change', comment, changes: PRETEND, data: undefined };
      return outcome.result ? { kind: 'correct', comment } : { kind: 'error', comment };
    },
    apply: async (args) => ({ result: outcome.result, comment: args.comment ?? outcome.comment, changes: PRETEND }),
    watch,
  });
}

/** true, false or 'Random' (a coin toss, as in Salt). */
function pick(value: unknown, what: string): boolean {
  if (value === 'Random') return Math.random() < 0.5;
  if (typeof value === 'boolean') return value;
  throw new Error(`'${what}' must be true, false or 'Random', got ${JSON.stringify(value)}`);
}

const configurable = stateFunction({
  args: {
    changes: { type: 'any', default: true, doc: "report changes: true, false or 'Random'" },
    result: { type: 'any', default: true, doc: "the result: true, false or 'Random'" },
    comment: { type: 'string', default: '', doc: 'the comment to return' },
  },
  extraArgs: true,
  async inspect(args, ctx): Promise<Plan<boolean>> {
    const result = pick(args.result, 'result');
    const changes = pick(args.changes, 'changes');
    // Salt in test mode: None with changes, True without (whatever `result` says), "This is a test" for no comment.
    const comment = ctx.test && args.comment === '' ? 'This is a test' : args.comment;
    if (changes) return { kind: 'change', comment, changes: PRETEND, data: result };
    return result || ctx.test ? { kind: 'correct', comment } : { kind: 'error', comment };
  },
  apply: async (args, plan) => ({ result: plan.data, comment: args.comment, changes: plan.changes }),
  watch,
});

export const testModule: StateModule = {
  name: 'test',
  functions: {
    nop: fixed({ result: true, changes: false, comment: 'Success!' }),
    succeed_without_changes: fixed({ result: true, changes: false, comment: 'Success!' }),
    succeed_with_changes: fixed({
      result: true,
      changes: true,
      comment: 'Success!',
      tested: "If we weren't testing, this would be successful with changes",
    }),
    fail_without_changes: fixed({
      result: false,
      changes: false,
      comment: 'Failure!',
      tested: "If we weren't testing, this would be a failure!",
    }),
    fail_with_changes: fixed({
      result: false,
      changes: true,
      comment: 'Failure!',
      tested: "If we weren't testing, this would be failed with changes",
    }),
    configurable_test_state: configurable,
  },
};
