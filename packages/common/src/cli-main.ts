import { BrineError } from './errors.js';

/**
 * Runs a command-line program: a BrineError becomes one line on stderr and an
 * exit status (2 for bad input unless `statusOf` says otherwise); anything else
 * is a bug and keeps its stack trace.
 */
export async function runCli(
  name: string,
  program: { parseAsync(argv: string[]): Promise<unknown> },
  statusOf: (err: BrineError) => number = () => 2,
): Promise<void> {
  try {
    await program.parseAsync(process.argv);
  } catch (err) {
    if (!(err instanceof BrineError)) throw err;
    process.stderr.write(`${name}: ${err.message}\n`);
    process.exitCode = statusOf(err);
  }
}
