// Debian packages: what dpkg has installed, and what apt would install.
import type { CommandRunner } from '../host/runner.js';
import { failure, readCommand, type CommandOutput, type Fact } from './fact.js';

export interface DpkgPackages {
  /** Installed packages by name → version. A package of a foreign architecture is named `name:arch`, as in Salt. */
  installed: Record<string, string>;
  /** Removed packages whose configuration files remain (what `pkg.purged` also clears), name → version. */
  configFiles: Record<string, string>;
}

/** `dpkg-query` with the native architecture, so foreign-architecture packages can be told apart. */
export const dpkgPackages: Fact<[], DpkgPackages, { arch: CommandOutput; query: CommandOutput }> = {
  name: 'dpkg.packages',
  read: async (host) => ({
    arch: await readCommand(host, 'dpkg', ['--print-architecture']),
    // biome-ignore lint/suspicious/noTemplateCurlyInString: dpkg-query's field placeholders, for dpkg-query to fill in
    query: await readCommand(host, 'dpkg-query', ['-W', '--showformat=${Package}\\t${Architecture}\\t${Status}\\t${Version}\\n']),
  }),
  parse({ arch, query }) {
    if (arch.exitCode !== 0) throw new Error(`dpkg could not tell the native architecture: ${failure(arch)}`);
    if (query.exitCode !== 0) throw new Error(`dpkg-query could not list packages: ${failure(query)}`);
    const native = arch.stdout.trim();
    const out: DpkgPackages = { installed: {}, configFiles: {} };
    for (const line of query.stdout.split('\n')) {
      const [pkg, pkgArch, status, version] = line.split('\t');
      if (!pkg || version === undefined) continue;
      const name = pkgArch && pkgArch !== native && pkgArch !== 'all' ? `${pkg}:${pkgArch}` : pkg;
      // Status is "want flag state", e.g. "install ok installed", "deinstall ok config-files".
      const state = status?.split(' ')[2];
      if (state === 'installed') out.installed[name] = version;
      else if (state === 'config-files') out.configFiles[name] = version;
    }
    return out;
  },
};

export interface AptPolicy {
  installed: string | null;
  candidate: string | null;
}

/** The environment apt-get runs in: no debconf question may wait for an answer. */
export const APT_ENV = { DEBIAN_FRONTEND: 'noninteractive' };

/** `apt-get update`; why it failed, if it did. */
export async function aptUpdate(runner: CommandRunner): Promise<string | undefined> {
  const r = await runner.run('apt-get', ['-q', 'update'], { env: APT_ENV });
  return r.exitCode === 0 ? undefined : `apt-get update failed: ${failure(r)}`;
}

/**
 * What `apt-cache policy` says of each package, after `apt-get update` if `refresh` is
 * `refresh` (Salt refreshes when it looks for the latest version, in test mode too); `release`
 * (may be empty) is pkg.latest's `fromrepo`. A name apt does not know is missing from the result.
 */
export const aptPolicy: Fact<[refresh: string, release: string, ...names: string[]], Record<string, AptPolicy>, CommandOutput> = {
  name: 'apt.policy',
  async read(host, refresh, release, ...names) {
    const failed = refresh === 'refresh' ? await aptUpdate(host.runner) : undefined;
    if (failed) return { exitCode: 100, stdout: '', stderr: failed };
    return readCommand(host, 'apt-cache', ['-q', ...(release ? ['-t', release] : []), 'policy', '--', ...names]);
  },
  parse(out) {
    if (out.exitCode !== 0) throw new Error(failure(out));
    const result: Record<string, AptPolicy> = {};
    let current: AptPolicy | undefined;
    for (const line of out.stdout.split('\n')) {
      if (/^\S.*:$/.test(line)) {
        current = { installed: null, candidate: null };
        result[line.slice(0, -1)] = current;
        continue;
      }
      const field = /^ {2}(Installed|Candidate): (.*)$/.exec(line);
      if (current && field) current[field[1] === 'Installed' ? 'installed' : 'candidate'] = field[2] === '(none)' ? null : field[2]!;
    }
    return result;
  },
};
