import { spawnSync } from 'node:child_process';
import {
  accessSync,
  closeSync,
  constants,
  fstatSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  rmSync,
  statSync,
  unlinkSync,
} from 'node:fs';
import { homedir, networkInterfaces, tmpdir } from 'node:os';
import { isAbsolute, join } from 'node:path';
import { passwdEntry, type UserInfo } from '../facts/accounts.js';

export interface CommandRequest {
  /** The program and its arguments; for a shell command, [shell, '-c', text]. */
  argv: readonly string[];
  /** Unset: the home of the user it runs as, or `/` when that cannot be read (Salt's default). */
  cwd?: string;
  /** Set over the inherited environment, or instead of it with `cleanEnv`. */
  env: Record<string, string>;
  cleanEnv: boolean;
  /** Run as this user, with its HOME, USER and LOGNAME (and its home as the default cwd). */
  runas?: string;
  stdin?: string;
  timeoutMs: number;
  /** Standard error into the standard output stream, in the order written (cmd.run). */
  mergeStderr: boolean;
}

export interface CommandOutcome {
  pid: number;
  /** null: killed by a signal. */
  retcode: number | null;
  stdout: string;
  stderr: string;
  /** Why the command did not run or did not finish (not found, bad cwd); the message is shown as it is. */
  error?: string;
  timedOut?: boolean;
}

/** An interface as Salt's `network.interfaces` returns it. */
export interface SaltInterface {
  hwaddr?: string;
  up: boolean;
  inet?: { address: string; netmask: string; broadcast?: string; label: string }[];
  inet6?: { address: string; prefixlen: string; scope: string }[];
}

/** What the functions may touch on the machine that renders. */
export interface ExecHost {
  run(req: CommandRequest): CommandOutcome;
  /** `~` for expanduser. */
  home(): string;
  pathType(path: string): 'file' | 'directory' | 'other' | undefined;
  /** Throws (ENOENT and the like) as reading does. */
  readFile(path: string): string;
  interfaces(): Record<string, SaltInterface>;
}

/**
 * The machine a state renders on, for cmd.*, file.* and network.* in templates.
 * Synchronous, as rendering is. A command's output goes to files rather than
 * pipes, so stderr can join stdout in the order written (cmd.run) and a
 * process the command left behind holding them cannot keep the render waiting.
 * The files are unlinked before the command starts: only their descriptors
 * hold the output, which leaves nothing on disk even if the minion is killed.
 */
export function nodeExecHost(): ExecHost {
  const home = () => process.env['HOME'] || homedir();
  return {
    home,
    run: (req) => runCommand(req, home()),
    pathType(path) {
      try {
        const st = statSync(path);
        return st.isFile() ? 'file' : st.isDirectory() ? 'directory' : 'other';
      } catch {
        return undefined;
      }
    },
    readFile: (path) => readFileSync(path, 'utf8'),
    interfaces,
  };
}

function runCommand(req: CommandRequest, minionHome: string): CommandOutcome {
  const failed = (error: string): CommandOutcome => ({ pid: 0, retcode: null, stdout: '', stderr: '', error });
  let home = minionHome;
  const env: Record<string, string | undefined> = { ...(req.cleanEnv ? {} : process.env) };
  let as: UserInfo | undefined;
  if (req.runas !== undefined) {
    const r = spawnSync('getent', ['passwd', req.runas], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    as = passwdEntry({ exitCode: r.status ?? -1, stdout: r.stdout ?? '' });
    if (!as) return failed(`User '${req.runas}' is not available`);
    Object.assign(env, { HOME: as.home, USER: as.name, LOGNAME: as.name });
    home = as.home;
  }
  Object.assign(env, req.env);
  let cwd = req.cwd;
  if (cwd === undefined) {
    try {
      accessSync(home, constants.R_OK);
      cwd = home;
    } catch {
      cwd = '/';
    }
  } else if (!isAbsolute(cwd) || !isDirectory(cwd)) return failed(`Specified cwd '${cwd}' either not absolute or does not exist`);
  if (!('NOTIFY_SOCKET' in req.env)) delete env['NOTIFY_SOCKET'];
  // Each stream's file is unlinked (and its directory removed) as soon as it is
  // open, before the command starts: the output may hold secrets, and a file
  // with no name leaves nothing behind even if the minion is killed mid-command.
  const out = openUnlinked();
  let err = out;
  try {
    if (!req.mergeStderr) err = openUnlinked();
    const r = spawnSync(req.argv[0]!, req.argv.slice(1), {
      cwd,
      env,
      stdio: [req.stdin === undefined ? 'ignore' : 'pipe', out, err],
      ...(req.stdin !== undefined && { input: req.stdin }),
      ...(as && { uid: as.uid, gid: as.gid }),
      timeout: req.timeoutMs,
      killSignal: 'SIGKILL',
    });
    const code = (r.error as NodeJS.ErrnoException | undefined)?.code;
    if (code === 'ETIMEDOUT') return { ...failed('timed out'), timedOut: true };
    if (r.error) return failed(code === 'ENOENT' ? 'No such file or directory' : r.error.message);
    return {
      pid: r.pid ?? 0,
      retcode: r.status,
      stdout: readAll(out),
      stderr: req.mergeStderr ? '' : readAll(err),
    };
  } finally {
    closeSync(out);
    if (err !== out) closeSync(err);
  }
}

/** A file open for reading and writing that has no name: its directory is gone before this returns. */
function openUnlinked(): number {
  const dir = mkdtempSync(join(tmpdir(), 'brine-render-'));
  try {
    const path = join(dir, 'out');
    const fd = openSync(path, 'wx+', 0o600);
    try {
      unlinkSync(path);
    } catch (e) {
      closeSync(fd);
      throw e;
    }
    return fd;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** What was written to `fd` from its start; the bytes read are zeroed once they are a string. */
function readAll(fd: number): string {
  const buf = Buffer.alloc(fstatSync(fd).size);
  try {
    let got = 0;
    while (got < buf.length) {
      const n = readSync(fd, buf, got, buf.length - got, got);
      if (n === 0) break;
      got += n;
    }
    return buf.toString('utf8', 0, got);
  } finally {
    buf.fill(0);
  }
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

const readSys = (iface: string, file: string): string | undefined => {
  try {
    return readFileSync(`/sys/class/net/${iface}/${file}`, 'utf8').trim();
  } catch {
    return undefined;
  }
};

/**
 * Salt's `network.interfaces` from what the kernel says (Salt parses `ip addr`):
 * every interface in /sys/class/net, up when IFF_UP is set, its addresses from
 * the OS. An IPv4 address's broadcast is the subnet's (what `ip addr` shows as
 * `brd` for an ordinary address); an IPv6 address's scope follows from the address.
 */
function interfaces(): Record<string, SaltInterface> {
  const addrs = networkInterfaces();
  let names: string[];
  try {
    names = readdirSync('/sys/class/net').sort();
  } catch {
    names = Object.keys(addrs);
  }
  const out: Record<string, SaltInterface> = {};
  for (const name of names) {
    const flags = readSys(name, 'flags');
    const iface: SaltInterface = { up: flags !== undefined ? (Number.parseInt(flags, 16) & 1) === 1 : (addrs[name]?.length ?? 0) > 0 };
    const hwaddr = readSys(name, 'address') ?? addrs[name]?.[0]?.mac;
    if (hwaddr) iface.hwaddr = hwaddr;
    for (const a of addrs[name] ?? []) {
      const prefix = Number(a.cidr?.split('/')[1] ?? 0);
      if (a.family === 'IPv4') {
        const entry: NonNullable<SaltInterface['inet']>[number] = { address: a.address, netmask: a.netmask, label: name };
        if (!a.internal && prefix < 31) entry.broadcast = broadcast(a.address, prefix);
        (iface.inet ??= []).push(entry);
      } else {
        const scope = a.internal ? 'host' : /^fe[89ab]/i.test(a.address) ? 'link' : 'global';
        (iface.inet6 ??= []).push({ address: a.address, prefixlen: String(prefix), scope });
      }
    }
    out[name] = iface;
  }
  return out;
}

function broadcast(address: string, prefix: number): string {
  const n = address.split('.').reduce((acc, part) => ((acc << 8) | Number(part)) >>> 0, 0);
  const b = (n | (prefix === 0 ? 0xffffffff : (1 << (32 - prefix)) - 1)) >>> 0;
  return [24, 16, 8, 0].map((shift) => (b >>> shift) & 0xff).join('.');
}
