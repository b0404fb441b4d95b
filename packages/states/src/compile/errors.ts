import { BrineError, type InputError } from '@brine/common';

/** States could not be rendered or compiled; nothing ran. Each problem names file:line. */
export class StateCompileError extends BrineError {
  constructor(readonly problems: readonly InputError[]) {
    const lines = problems.map((p) => `  - ${p.message}`).join('\n');
    super('states_compile_failed', `${problems.length} problem${problems.length === 1 ? '' : 's'} in the states:\n${lines}`);
  }
}
