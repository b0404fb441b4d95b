import { BlockList, isIPv4 } from 'node:net';
import type { StateLog } from '../host/log.js';
import type { ExecHost } from '../host/template-host.js';
import { splitKeywords } from './py-methods.js';
import { PyError, typeName } from './python.js';

/**
 * The execution functions templates call that reach the machine they render on:
 * `cmd.*`, `file.*` and `network.*`, with the arguments and results of Salt
 * 3006's (salt/modules/cmdmod.py, file.py, network.py). What they touch comes
 * from an ExecHost (host/template-host.ts), so argument handling is tested with
 * fixtures.
 */

/**
 * A command run while rendering blocks the minion until it ends (rendering is
 * synchronous), so it is bounded: past this (or `timeout=`) it is killed and the
 * render fails. Salt sets no bound and returns the timeout message as output.
 */
export const RENDER_COMMAND_TIMEOUT_S = 30;

/** The locale Salt gives commands unless `reset_system_locale=False` (it parses English output). */
const C_LOCALE = [
  'LC_CTYPE',
  'LC_NUMERIC',
  'LC_TIME',
  'LC_COLLATE',
  'LC_MONETARY',
  'LC_MESSAGES',
  'LC_PAPER',
  'LC_NAME',
  'LC_ADDRESS',
  'LC_TELEPHONE',
  'LC_MEASUREMENT',
  'LC_IDENTIFICATION',
  'LANGUAGE',
];

/**
 * Python's binding of a call's arguments to `names`: positionally, then by
 * keyword. An undefined value (a missing pillar key) is refused rather than
 * taken as absent; a keyword the function here does not take is an error, not
 * ignored as Salt's `**kwargs` would.
 */
export function bindArgs(fn: string, names: readonly string[], args: unknown[]): Record<string, unknown> {
  const [positional, keywords] = splitKeywords(args);
  if (positional.length > names.length) {
    throw new PyError(`${fn}() takes at most ${names.length} positional arguments (${positional.length} given)`);
  }
  const out: Record<string, unknown> = {};
  positional.forEach((value, i) => {
    out[names[i]!] = value;
  });
  for (const [key, value] of Object.entries(keywords)) {
    if (!names.includes(key)) throw new PyError(`${fn}() got an unexpected keyword argument '${key}' (not supported here)`);
    if (Object.hasOwn(out, key)) throw new PyError(`${fn}() got multiple values for argument '${key}'`);
    out[key] = value;
  }
  for (const [key, value] of Object.entries(out)) {
    if (value === undefined) throw new PyError(`${fn}(): the value given for '${key}' is undefined (a missing pillar or grains key?)`);
  }
  return out;
}

const text = (fn: string, name: string, v: unknown): string => {
  if (typeof v === 'string') return v;
  if (v instanceof String || typeof v === 'number') return String(v);
  throw new PyError(`${fn}(): '${name}' must be a string, not ${typeName(v)}`);
};

/** shlex's `whitespace`: not Unicode's spaces, which stay in a word. */
const SHLEX_WHITESPACE = ' \t\r\n';

/** `salt.utils.args.shlex_split`: POSIX shell words, quotes removed, no comments. */
export function shlexSplit(s: string): string[] {
  const words: string[] = [];
  let word = '';
  let inWord = false;
  let quote: '"' | "'" | undefined;
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (quote === "'") {
      if (c === "'") quote = undefined;
      else word += c;
    } else if (quote === '"') {
      if (c === '"') quote = undefined;
      else if (c === '\\' && (s[i + 1] === '"' || s[i + 1] === '\\')) word += s[++i];
      else word += c;
    } else if (SHLEX_WHITESPACE.includes(c)) {
      if (inWord) words.push(word);
      word = '';
      inWord = false;
    } else {
      inWord = true;
      if (c === "'" || c === '"') quote = c;
      else if (c === '\\') {
        if (i + 1 >= s.length) throw new PyError('No escaped character');
        word += s[++i];
      } else word += c;
    }
  }
  if (quote) throw new PyError('No closing quotation');
  if (inWord) words.push(word);
  return words;
}

const CMD_ARGS = [
  'cmd',
  'cwd',
  'stdin',
  'python_shell',
  'env',
  'clean_env',
  'rstrip',
  'output_loglevel',
  'timeout',
  'reset_system_locale',
  'ignore_retcode',
  'raise_err',
  'success_retcodes',
  'runas',
] as const;

type CmdKind = 'run' | 'shell' | 'run_stdout' | 'run_all' | 'retcode';

/**
 * cmdmod.py's `_run` and its callers: `python_shell` is false unless given (a
 * call from a template carries no job id, and `cmd_safe` is on), so the command
 * is split into words and run without a shell; `cmd.shell` runs it in /bin/sh.
 */
function command(host: ExecHost, opts: Record<string, unknown>, kind: CmdKind, log: StateLog | undefined) {
  const fn = `cmd.${kind}`;
  return (...args: unknown[]): unknown => {
    const merges = kind === 'run' || kind === 'shell';
    const a = bindArgs(fn, merges ? [...CMD_ARGS, 'redirect_stderr'] : CMD_ARGS, args);
    if (a['cmd'] === undefined) throw new PyError(`${fn}() missing 1 required positional argument: 'cmd'`);
    const cmd = text(fn, 'cmd', a['cmd']);
    const shell = a['python_shell'];
    const pythonShell = kind === 'shell' || (shell === undefined || shell === null ? opts['cmd_safe'] === false : shell === true);
    const argv = pythonShell ? ['/bin/sh', '-c', cmd] : shlexSplit(cmd);
    if (argv.length === 0) throw new PyError(`${fn}(): the command is empty`);
    const env = commandEnv(fn, a['env'], a['reset_system_locale'] !== false);
    const timeout = a['timeout'] === undefined || a['timeout'] === null ? RENDER_COMMAND_TIMEOUT_S : Number(a['timeout']);
    if (!(timeout > 0)) throw new PyError(`${fn}(): timeout must be a positive number of seconds`);
    const given = (name: string) => (a[name] === undefined || a[name] === null || a[name] === '' ? undefined : text(fn, name, a[name]));
    const cwd = given('cwd');
    const runas = given('runas');
    const stdin = a['stdin'] === undefined || a['stdin'] === null ? undefined : text(fn, 'stdin', a['stdin']);
    // Only the program is named, as Salt logs it: its arguments may hold a pillar value.
    const program = pythonShell ? cmd.trim().split(/\s+/)[0] : argv[0];
    log?.info('running a command while rendering', { program, ...(cwd !== undefined && { cwd }), ...(runas !== undefined && { runas }) });
    const out = host.run({
      argv,
      ...(cwd !== undefined && { cwd }),
      env,
      cleanEnv: a['clean_env'] === true,
      ...(runas !== undefined && { runas }),
      ...(stdin !== undefined && { stdin }),
      timeoutMs: timeout * 1000,
      mergeStderr: merges && a['redirect_stderr'] !== false,
    });
    if (out.timedOut) {
      throw new PyError(
        `${fn}: '${program}' did not finish within ${timeout} s and was killed (a command run while rendering is bounded; give timeout= for more)`,
      );
    }
    if (out.error !== undefined) throw new PyError(`${fn}: unable to run '${program}': ${out.error}`);
    const strip = a['rstrip'] !== false;
    const stdout = strip ? out.stdout.trimEnd() : out.stdout;
    const stderr = strip ? out.stderr.trimEnd() : out.stderr;
    const successes = Array.isArray(a['success_retcodes']) ? a['success_retcodes'].map(Number) : [];
    const retcode = out.retcode !== null && successes.includes(out.retcode) ? 0 : out.retcode;
    if (retcode !== 0 && a['ignore_retcode'] !== true) log?.error(`Command '${program}' failed with return code: ${retcode ?? 'None'}`);
    if (a['raise_err'] === true && retcode !== 0) throw new PyError(`${fn}: '${program}' failed with return code ${retcode}: ${stdout}`);
    switch (kind) {
      case 'retcode':
        return retcode;
      case 'run_all':
        return { pid: out.pid, retcode, stdout, stderr };
      default:
        return stdout;
    }
  };
}

/** `env` as a dict (or Salt's list of one-key dicts); None values are empty, as Salt sets them. */
function commandEnv(fn: string, given: unknown, cLocale: boolean): Record<string, string> {
  const env: Record<string, string> = {};
  const entries = Array.isArray(given) ? given : given === undefined || given === null ? [] : [given];
  for (const entry of entries) {
    if (entry === null || typeof entry !== 'object' || Array.isArray(entry)) {
      throw new PyError(`${fn}(): env must be a dict, not ${typeName(entry)}`);
    }
    for (const [k, v] of Object.entries(entry)) env[k] = v === null ? '' : text(fn, `env:${k}`, v);
  }
  if (cLocale) for (const name of C_LOCALE) env[name] ??= 'C';
  return env;
}

/** Python's `os.path.expanduser` for `~` and `~/...` (not another user's `~name`). */
const expandUser = (host: ExecHost, path: string): string =>
  path === '~' || path.startsWith('~/') ? host.home().replace(/\/$/, '') + path.slice(1) : path;

function fileFunctions(host: ExecHost) {
  const test =
    (fn: string, type: 'file' | 'directory') =>
    (...args: unknown[]) => {
      const a = bindArgs(fn, ['path'], args);
      return host.pathType(expandUser(host, text(fn, 'path', a['path']))) === type;
    };
  return {
    'file.file_exists': test('file.file_exists', 'file'),
    'file.directory_exists': test('file.directory_exists', 'directory'),
    // `binary` changes nothing: Salt decodes the bytes read to text either way.
    'file.read': (...args: unknown[]) => {
      const a = bindArgs('file.read', ['path', 'binary'], args);
      const path = expandUser(host, text('file.read', 'path', a['path']));
      try {
        return host.readFile(path);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        throw new PyError(`file.read: cannot read '${path}': ${code ?? (err as Error).message}`);
      }
    },
  };
}

/** ipaddress' `is_private` (Python 3.10, as Salt 3006's onedir ships); one list per family, as BlockList maps IPv4 into IPv6. */
function privateNetworks(family: 'ipv4' | 'ipv6', nets: string[]): BlockList {
  const list = new BlockList();
  for (const net of nets) {
    const [addr, prefix] = net.split('/') as [string, string];
    list.addSubnet(addr, Number(prefix), family);
  }
  return list;
}
const PRIVATE = {
  ipv4: privateNetworks('ipv4', [
    '0.0.0.0/8',
    '10.0.0.0/8',
    '127.0.0.0/8',
    '169.254.0.0/16',
    '172.16.0.0/12',
    '192.0.0.0/29',
    '192.0.0.170/31',
    '192.0.2.0/24',
    '192.168.0.0/16',
    '198.18.0.0/15',
    '198.51.100.0/24',
    '203.0.113.0/24',
    '240.0.0.0/4',
    '255.255.255.255/32',
  ]),
  ipv6: privateNetworks('ipv6', [
    '::1/128',
    '::/128',
    '::ffff:0:0/96',
    '100::/64',
    '2001::/23',
    '2001:2::/48',
    '2001:db8::/32',
    '2001:10::/28',
    'fc00::/7',
    'fe80::/10',
  ]),
};

const family = (ip: string) => (isIPv4(ip) ? 'ipv4' : 'ipv6');
const isPrivate = (ip: string) => PRIVATE[family(ip)].check(ip, family(ip));

/** An address as a number, to sort as Python sorts ip_address objects. */
function ipValue(ip: string): bigint {
  if (isIPv4(ip)) return ip.split('.').reduce((n, part) => (n << 8n) | BigInt(part), 0n);
  const [head = '', tail] = ip.split('%')[0]!.split('::') as [string, string | undefined];
  // A trailing dotted IPv4 part (`::ffff:10.0.0.1`) is two groups.
  const groups = (s: string) =>
    s === ''
      ? []
      : s.split(':').flatMap((g) => (isIPv4(g) ? [(ipValue(g) >> 16n).toString(16), (ipValue(g) & 0xffffn).toString(16)] : [g]));
  const left = groups(head);
  const right = tail === undefined ? [] : groups(tail);
  const all = [...left, ...Array(8 - left.length - right.length).fill('0'), ...right];
  return all.reduce((n: bigint, g: string) => (n << 16n) | BigInt(`0x${g}`), 0n);
}

function inSubnet(cidr: string, ip: string): boolean {
  const [net, prefix] = cidr.split('/') as [string, string | undefined];
  const fam = family(net);
  if (fam !== family(ip)) return false;
  const list = new BlockList();
  try {
    list.addSubnet(net, prefix === undefined ? (fam === 'ipv4' ? 32 : 128) : Number(prefix), fam);
  } catch {
    throw new PyError(`'${cidr}' does not appear to be an IPv4 or IPv6 network`);
  }
  return list.check(ip, fam);
}

/** network.ip_addrs / ip_addrs6: addresses of one interface or all, without loopback unless asked, sorted and unique. */
function ipAddrs(host: ExecHost, proto: 'inet' | 'inet6') {
  const fn = proto === 'inet' ? 'network.ip_addrs' : 'network.ip_addrs6';
  return (...args: unknown[]): string[] => {
    const a = bindArgs(fn, ['interface', 'include_loopback', 'cidr', ...(proto === 'inet' ? ['type'] : [])], args);
    const ifaces = host.interfaces();
    const wanted = a['interface'] === undefined || a['interface'] === null ? Object.keys(ifaces) : [text(fn, 'interface', a['interface'])];
    const found = new Map<string, bigint>();
    for (const name of wanted) {
      for (const { address } of ifaces[name]?.[proto] ?? []) {
        const loopback = proto === 'inet' ? address.startsWith('127.') : address === '::1';
        if (!loopback || a['include_loopback'] === true) found.set(address, ipValue(address));
      }
    }
    let addrs = [...found].sort((x, y) => (x[1] < y[1] ? -1 : x[1] > y[1] ? 1 : 0)).map(([ip]) => ip);
    const cidr = a['cidr'];
    if (cidr !== undefined && cidr !== null && cidr !== '') return addrs.filter((ip) => inSubnet(text(fn, 'cidr', cidr), ip));
    if (a['type'] === 'public') addrs = addrs.filter((ip) => !isPrivate(ip));
    else if (a['type'] === 'private') addrs = addrs.filter(isPrivate);
    return addrs;
  };
}

/** The functions that need the machine, by Salt's name. */
export function hostFunctions(
  host: ExecHost,
  opts: Record<string, unknown>,
  log?: StateLog,
): Record<string, (...args: unknown[]) => unknown> {
  const cmd = (kind: CmdKind) => command(host, opts, kind, log);
  return {
    'cmd.run': cmd('run'),
    'cmd.shell': cmd('shell'),
    'cmd.run_stdout': cmd('run_stdout'),
    'cmd.run_all': cmd('run_all'),
    'cmd.retcode': cmd('retcode'),
    ...fileFunctions(host),
    'network.ip_addrs': ipAddrs(host, 'inet'),
    'network.ip_addrs6': ipAddrs(host, 'inet6'),
    'network.interfaces': (...args: unknown[]) => {
      bindArgs('network.interfaces', [], args);
      return host.interfaces();
    },
  };
}

/** The modules hostFunctions serves, for the error where there is no host. */
export const HOST_MODULES: ReadonlySet<string> = new Set(['cmd', 'file', 'network']);
