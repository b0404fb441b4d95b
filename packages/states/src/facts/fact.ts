// A fact is one thing a state reads about the host: how to read it (a command, or a file or
// sysfs read through host/) and a pure parser of what was read. pyinfra's facts are the model:
// parsers are tested with captured output (test/fixtures/facts), and state functions with facts
// given as data (test/fixtures/states), so neither needs the machine it describes.
import type { HostFs } from '../host/fs.js';
import type { CommandOptions, CommandResult, CommandRunner } from '../host/runner.js';
import type { SecretProvider } from '../host/secrets.js';

/** What reading a fact may use. */
export interface HostReader {
  runner: CommandRunner;
  fs: HostFs;
  /**
   * Pillar secrets, for a fact that feeds one to its command on stdin (which key slot a LUKS
   * passphrase opens): the fact names the pillar path, never the value. None if not given.
   */
  secrets?: SecretProvider;
}

/** A fact's parameters are strings, so `name params…` keys it in fixtures. */
export type FactParams = readonly string[];

export interface Fact<P extends FactParams, T, R = unknown> {
  /** Unique, e.g. `lvm.report`; fixtures key a fact's value by it and its parameters. */
  name: string;
  read(host: HostReader, ...params: P): Promise<R>;
  /** Pure: the same `raw` always gives the same value (or throws the same error). */
  parse(raw: R, ...params: P): T;
}

/** What a command fact's parser sees of its command. */
export type CommandOutput = Pick<CommandResult, 'exitCode' | 'stdout' | 'stderr' | 'error'>;

/** Runs one command for a fact; what its parser may see of it. */
export async function readCommand(host: HostReader, file: string, args: readonly string[], opts?: CommandOptions): Promise<CommandOutput> {
  const { exitCode, stdout, stderr, error } = await host.runner.run(file, args, opts);
  return { exitCode, stdout, stderr, ...(error !== undefined && { error }) };
}

/** A fact read by running one command: `command` gives its argv. */
export function commandFact<P extends FactParams, T>(
  name: string,
  command: (...params: P) => readonly [string, ...string[]],
  parse: (out: CommandOutput, ...params: P) => T,
  opts?: CommandOptions,
): Fact<P, T, CommandOutput> & { command: typeof command } {
  return {
    name,
    command,
    read: (host, ...params) => {
      const [file, ...args] = command(...params);
      return readCommand(host, file, args, opts);
    },
    parse,
  };
}

/** Why a command fact's command failed, for its error message. */
export const failure = (out: CommandOutput): string => out.error ?? out.stderr.trim();

/** Where states get facts: the host in a real run, a fixture in tests. */
export interface FactSource {
  get<P extends FactParams, T, R>(fact: Fact<P, T, R>, ...params: P): Promise<T>;
}

/** Facts read from the machine now; nothing is cached, as a state's apply may change them. */
export function hostFacts(host: HostReader): FactSource {
  return {
    get: async (fact, ...params) => fact.parse(await fact.read(host, ...params), ...params),
  };
}
