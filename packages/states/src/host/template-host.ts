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
  type StatsFs,
  statfsSync,
  statSync,
  unlinkSync,
} from 'node:fs';
import { homedir, networkInterfaces } from 'node:os';
import { isAbsolute, join } from 'node:path';
import { passwdEntry, type UserInfo } from '../facts/accounts.js';
import { MAX_OUTPUT_BYTES } from './runner.js';

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

/** statfs(2) f_type of the memory file systems: never written back to a disk file system (tmpfs pages can be swapped, as any memory). */
export const TMPFS_MAGIC = 0x01021994;
export const RAMFS_MAGIC = 0x858458f6;

/** Where a render-time command's output may go after the minion's own directories: memory file systems on most systems. */
export const SCRATCH_DIRS: readonly string[] = ['/dev/shm', '/run'];

/** What statfs and access say of one candidate directory. */
export interface ScratchFact {
  dir: string;
  /** statfs f_type; unset when the directory could not be read (see `error`). */
  type?: number;
  writable?: boolean;
  /** Why statfs failed (ENOENT and the like). */
  error?: string;
}

export type ScratchChoice = { dir: string } | { refused: string };

/**
 * The first candidate on a memory file system (tmpfs or ramfs) that this process
 * can write to, or why there is none, naming every directory checked. A disk file
 * system is never chosen: an unlinked file's pages are still written back there
 * (after ~30 s, under memory pressure, on sync), and its freed blocks are not wiped.
 */
export function chooseScratchDir(facts: readonly ScratchFact[]): ScratchChoice {
  const why: string[] = [];
  for (const f of facts) {
    if (f.type === undefined) {
      why.push(`${f.dir} (${f.error ?? 'unreadable'})`);
      continue;
    }
    const type = f.type >>> 0;
    if (type !== TMPFS_MAGIC && type !== RAMFS_MAGIC) {
      why.push(`${f.dir} (not tmpfs or ramfs: file system type 0x${type.toString(16)})`);
      continue;
    }
    if (!f.writable) {
      why.push(`${f.dir} (${type === TMPFS_MAGIC ? 'tmpfs' : 'ramfs'}, not writable)`);
      continue;
    }
    return { dir: f.dir };
  }
  return {
    refused:
      `no memory file system (tmpfs or ramfs) to hold its output, which may be secret, so it was not run; checked ${why.join(', ')}. ` +
      'Mount a tmpfs on one of them (e.g. /dev/shm) or make one writable; the output is never written to a disk file system',
  };
}

/** The facts chooseScratchDir decides on, read from this machine. */
export function scratchFacts(dirs: readonly string[], statfs: (dir: string) => Pick<StatsFs, 'type'> = statfsSync): ScratchFact[] {
  return dirs.map((dir) => {
    let type: number;
    try {
      type = statfs(dir).type;
    } catch (e) {
      return { dir, error: (e as NodeJS.ErrnoException).code ?? String(e) };
    }
    let writable = true;
    try {
      accessSync(dir, constants.W_OK | constants.X_OK);
    } catch {
      writable = false;
    }
    return { dir, type, writable };
  });
}

export interface ExecHostOptions {
  /**
   * Where render-time commands' output may go, tried in order (default SCRATCH_DIRS); the
   * minion puts its own runtime directory (sock_dir) first. Only a memory file system is used.
   */
  scratchDirs?: readonly string[];
  /** Per stream; a command that wrote more fails (the runner's cap for other commands). */
  maxOutputBytes?: number;
}

/**
 * The machine a state renders on, for cmd.*, file.* and network.* in templates.
 * Synchronous, as rendering is. A command's output goes to files rather than
 * pipes, so stderr can join stdout in the order written (cmd.run) and a
 * process the command left behind holding them cannot keep the render waiting.
 * The files are made only on a memory file system (tmpfs or ramfs; the command is
 * refused when there is none) and unlinked before the command starts: only their
 * descriptors hold the output, no disk ever does, and nothing is left behind even
 * if the minion is killed.
 */
export function nodeExecHost(opts: ExecHostOptions = {}): ExecHost {
  const home = () => process.env['HOME'] || homedir();
  const dirs = opts.scratchDirs ?? SCRATCH_DIRS;
  const max = opts.maxOutputBytes ?? MAX_OUTPUT_BYTES;
  return {
    home,
    run: (req) => runCommand(req, home(), dirs, max),
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

function runCommand(req: CommandRequest, minionHome: string, dirs: readonly string[], max: number): CommandOutcome {
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
  // The output may hold secrets: only a memory file system holds it, never a disk.
  const scratch = chooseScratchDir(scratchFacts(dirs));
  if ('refused' in scratch) return failed(scratch.refused);
  // Each stream's file is unlinked (and its directory removed) as soon as it is
  // open, before the command starts: a file with no name leaves nothing behind
  // even if the minion is killed mid-command.
  const out = openUnlinked(scratch.dir);
  let err = out;
  try {
    if (!req.mergeStderr) err = openUnlinked(scratch.dir);
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
    // As the runner does for other commands: over the cap, the call fails rather than the minion's memory.
    const over = fstatSync(out).size > max ? 'stdout' : err !== out && fstatSync(err).size > max ? 'stderr' : undefined;
    if (over) return failed(`${over} exceeded ${max} bytes`);
    return {
      pid: r.pid ?? 0,
      retcode: r.status,
      stdout: readAll(out, max),
      stderr: req.mergeStderr ? '' : readAll(err, max),
    };
  } finally {
    closeSync(out);
    if (err !== out) closeSync(err);
  }
}

/** A file in `parent`, open for reading and writing, that has no name: its directory is gone before this returns. */
function openUnlinked(parent: string): number {
  const dir = mkdtempSync(join(parent, 'brine-render-'));
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

/** What was written to `fd` from its start, at most `max` bytes; the bytes read are zeroed once they are a string. */
function readAll(fd: number, max: number): string {
  const buf = Buffer.alloc(Math.min(fstatSync(fd).size, max));
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
