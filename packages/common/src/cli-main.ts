import { Command, CommanderError } from 'commander';
import { disableColor } from './color.js';
import { BrineError } from './errors.js';

/** Exit status of every Brine CLI (README, CLI reference). */
export const EXIT = { ok: 0, failed: 1, usage: 2 } as const;

// Replaced by the bundle (scripts/bundle.mjs) with the CLI package's version at build time.
declare const __BRINE_VERSION__: string | undefined;
export const CLI_VERSION = typeof __BRINE_VERSION__ === 'string' ? __BRINE_VERSION__ : '0.0.0-unbundled';

export interface GlobalOptions {
  config?: string;
  color?: boolean;
}

/** The global options as a subcommand sees them, wherever they stood on the command line. */
export const globalOptions = (cmd: Command): GlobalOptions => cmd.optsWithGlobals<GlobalOptions>();

/**
 * A CLI program with the options every command shares. They are global: the
 * program reads them before or after any subcommand, nested ones included
 * (`master -c F keys list` is `master keys list -c F`), so no subcommand defines
 * its own `-c` and none can silently fall back to the default config.
 */
export function cliProgram(name: 'master' | 'minion', description: string): Command {
  return (
    new Command(name)
      .description(description)
      .version(CLI_VERSION, '-V, --version', 'print the version')
      .option('-c, --config <file>', `config file (default /etc/brine/${name})`)
      .option('--no-color', 'no colours (there are none either with NO_COLOR set or off a terminal)')
      .configureHelp({ showGlobalOptions: true })
      .showHelpAfterError()
      // Commander's usage errors reach runCli as CommanderError (exit 2) instead of exiting 1
      // on the spot. Set before any subcommand exists: subcommands copy it when created.
      .exitOverride()
      .hook('preAction', (program) => {
        if (program.opts<GlobalOptions>().color === false) disableColor();
      })
  );
}

/**
 * The program's own action: the daemon, run when no subcommand is named. Call it
 * after registering the subcommands, which would otherwise inherit the excess
 * arguments it allows; those arguments are a misspelt command, reported as such
 * rather than as commander's "too many arguments".
 */
export function daemonAction(program: Command, run: (config: string | undefined) => Promise<void>): Command {
  return program.allowExcessArguments().action(async (opts: GlobalOptions, cmd: Command) => {
    const [stray] = cmd.args;
    if (stray !== undefined) cmd.error(`error: unknown command '${stray}'`, { exitCode: EXIT.usage, code: 'commander.unknownCommand' });
    await run(opts.config);
  });
}

/**
 * Runs a command-line program: a BrineError becomes one line on stderr and an
 * exit status (2 for bad input unless `statusOf` says otherwise); commander's own
 * usage errors exit 2 too; anything else is a bug and keeps its stack trace.
 */
export async function runCli(name: string, program: Command, statusOf: (err: BrineError) => number = () => EXIT.usage): Promise<void> {
  for (const stream of [process.stdout, process.stderr]) stream.on('error', endOnClosedOutput);
  try {
    await program.parseAsync(process.argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      // Already printed by commander; --help and --version are its "errors" with status 0.
      process.exitCode = err.exitCode === 0 ? EXIT.ok : EXIT.usage;
      return;
    }
    if (!(err instanceof BrineError)) throw err;
    process.stderr.write(`${name}: ${err.message}\n`);
    process.exitCode = statusOf(err);
  }
}

/**
 * The reader went away (`master jobs list | head -1`): it has what it wanted.
 * Stop quietly, with the status decided so far, instead of a stack trace for EPIPE.
 */
function endOnClosedOutput(err: NodeJS.ErrnoException): void {
  if (err.code !== 'EPIPE') throw err;
  process.exit();
}
