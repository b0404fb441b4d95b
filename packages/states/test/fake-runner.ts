import type { CommandOptions, CommandResult, CommandRunner } from '../src/run/runner.js';

export interface FakeCall {
  file: string;
  args: readonly string[];
  opts: CommandOptions;
}

/**
 * A scripted command runner for unit tests of argument building and error
 * paths only; everything else runs real commands.
 */
export class FakeRunner implements CommandRunner {
  readonly calls: FakeCall[] = [];
  constructor(private readonly answer: (call: FakeCall) => Partial<CommandResult> = () => ({})) {}

  async run(file: string, args: readonly string[], opts: CommandOptions = {}): Promise<CommandResult> {
    const call = { file, args, opts };
    this.calls.push(call);
    return { exitCode: 0, stdout: '', stderr: '', pid: 4242, ...this.answer(call) };
  }
}
