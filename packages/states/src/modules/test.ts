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

function fixed(plan: Plan, applied: Outcome): StateFunction {
  return stateFunction({
    args: {},
    extraArgs: true,
    inspect: async () => plan,
    apply: async () => applied,
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
  async inspect(args): Promise<Plan<boolean>> {
    const result = pick(args.result, 'result');
    if (pick(args.changes, 'changes')) return { kind: 'change', comment: args.comment, changes: PRETEND, data: result };
    return result ? { kind: 'correct', comment: args.comment } : { kind: 'error', comment: args.comment };
  },
  apply: async (args, plan) => ({ result: plan.data, comment: args.comment, changes: plan.changes }),
  watch,
});

export const testModule: StateModule = {
  name: 'test',
  functions: {
    nop: fixed({ kind: 'correct', comment: 'Success!' }, { result: true, comment: 'Success!', changes: {} }),
    succeed_without_changes: fixed({ kind: 'correct', comment: 'Success!' }, { result: true, comment: 'Success!', changes: {} }),
    succeed_with_changes: fixed(
      { kind: 'change', comment: "If we weren't testing, this would be successful with changes", changes: PRETEND },
      { result: true, comment: 'Success!', changes: PRETEND },
    ),
    fail_without_changes: fixed({ kind: 'error', comment: 'Failure!' }, { result: false, comment: 'Failure!', changes: {} }),
    fail_with_changes: fixed(
      { kind: 'change', comment: "If we weren't testing, this would be failed with changes", changes: PRETEND },
      { result: false, comment: 'Failure!', changes: PRETEND },
    ),
    configurable_test_state: configurable,
  },
};
