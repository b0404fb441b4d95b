import { type ChildProcess, spawn } from 'node:child_process';
import { accessSync, constants as fsConstants, readFileSync } from 'node:fs';
import { constants as osConstants } from 'node:os';
import { join } from 'node:path';

/** How a command ended, from either path (direct spawn or the spawner). */
export interface Ended {
  /** null when killed by a signal or not started. */
  code: number | null;
  signal: NodeJS.Signals | null;
  pid: number | undefined;
  stdout: Buffer;
  stderr: Buffer;
  /** Why the command did not start, or ran away (output over the cap), if so. */
  error?: string;
}

/** A command on its way. */
export interface Started {
  kill(signal: NodeJS.Signals): void;
  /** Settles once the command exited and its pipes closed, or once it exited after being killed. */
  ended: Promise<Ended>;
}

export interface SpawnOptions {
  cwd?: string;
  env?: Record<string, string>;
  uid?: number;
  gid?: number;
}

/**
 * The co-process, in Perl because perl-base is Essential on Debian and Ubuntu (always
 * installed). Forking this ~7 MiB process instead of the 60–70 MiB minion cut the
 * minion's own CPU per apply by half to two thirds and the total (minion, co-process, commands)
 * by 13–21 % (docs/BENCHMARKS.md, "The spawner co-process"). Carried as `perl -e`
 * text rather than a file beside the code: nothing to find at run time, whether from the
 * workspace, the esbuild bundle or the .deb. Uses only modules from perl-base (POSIX,
 * Errno); no clock, as Node keeps the timeouts and sends a kill.
 *
 * Frames both ways: a 4-byte big-endian length, then NUL-separated fields.
 * In:  run, id, uid, gid, cwd, file, argc, args…, envc, env entries "K=V"…   |   kill, id, signal number
 *      (envc empty: the same environment as the last command's, so it is sent once, not per command)
 * Out: started, id, pid, start time (field 22 of /proc/<pid>/stat), once forked: the child execs
 *      only after this frame is written (an exec that fails is then answered as not started);
 *      ended, id, pid, exit code, signal number, errno (did not start), error, stdout length, then stdout and stderr.
 * Each command runs in a session and process group of its own, without a controlling terminal;
 * its kills go to the group (what it started too).
 * Node kills the commands whose start it heard of if the co-process dies (and when Node exits):
 * every command that runs, as it heard of it before it ran; the start time tells it the pid is
 * still that command's. The co-process exits when its input closes (the minion is gone, even
 * killed without a word), killing the commands it runs (their groups) first.
 */
const SCRIPT = String.raw`
use strict; use warnings; use POSIX (); use Errno ();
$0 = 'brine-spawner';
my $max = shift @ARGV;
# Commands by request id until answered; by pid only until reaped, so a pid the kernel
# hands out again (a reaped command's pipes may outlive it) never overwrites another entry.
my ($in, %cmd, %running) = ('');
# Each command runs in its own session and process group (so a kill reaches what it started
# too), out of the terminal's foreground group: what the terminal sends that group (Ctrl-C, Ctrl-\, hangup) is
# for the commands, and passed on to them, not for us.
$SIG{INT} = $SIG{QUIT} = $SIG{HUP} = sub { signal_($_, $_[0]) for values %running };
# An exiting command interrupts select(); the 50 ms cap below covers one exiting just before it.
$SIG{CHLD} = sub {};
# A write to a pipe whose reader is gone (Node; a command killed before its go byte) fails with EPIPE instead.
$SIG{PIPE} = 'IGNORE';
binmode STDIN; binmode STDOUT;
open my $null, '<', '/dev/null' or die "brine-spawner: /dev/null: $!\n";

# The minion gone (its end of our input or output closed, however it ended: even killed, it
# cannot say so): the commands go with it, for nobody would be left to stop them.
sub quit { signal_($_, 'KILL') for values %running; exit 0 }
sub say_ { my $m = pack('N', length $_[0]) . $_[0];
  while (length $m) { my $n = syswrite STDOUT, $m; if (defined $n) { substr($m, 0, $n) = '' } elsif (!$!{EINTR}) { quit() } } }
sub answer { my ($c, $code, $sig, $errno) = @_;
  say_(join("\0", 'ended', $c->{id}, $c->{pid}, $code // '', $sig // '', $errno // '', $c->{error} // '', length $c->{out}[0]) . "\0" . $c->{out}[0] . $c->{out}[1]) }
# A command and what it started: its process group, whose id is the command's pid, which stays
# its (no other process can have it) until it is reaped; never after. The command itself if
# that group is not there (it left it, or has not yet made it).
sub signal_ { my ($c, $sig) = @_; return if defined $c->{status} || $c->{pid} < 2; kill($sig, -$c->{pid}) || kill($sig, $c->{pid}) }
sub stop_ { $_[0]{stopped} = 1; signal_(@_) }
sub readall { my ($fh) = @_; my ($buf, $n) = (''); do { $n = sysread $fh, $buf, 4, length $buf } while ($n || (!defined $n && $!{EINTR})); $buf }
# A child not yet reaped keeps its pid: its start time names it for Node's check.
# After the LAST ')', as Node reads it: the command's name (comm) may hold ") " itself.
sub started_at { open my $fh, '<', "/proc/$_[0]/stat" or return ''; my $s = do { local $/; <$fh> } // '';
  my $i = rindex $s, ')'; $i < 0 ? '' : ((split ' ', substr $s, $i + 1)[19] // '') }

sub run {
  my ($id, $uid, $gid, $cwd, $file, $argc, @rest) = @_;
  my @args = splice @rest, 0, $argc;
  # Set here, not in the child: a child writing %ENV copies pages of this process
  # (fork's copy-on-write), which costs more than the fork.
  %ENV = map { split /=/, $_, 2 } @rest[1 .. $#rest] if $rest[0] ne '';
  my $c = { id => $id, pid => 0, out => ['', ''], fh => [], size => [0, 0] };
  my ($or, $ow, $er, $ew, $sr, $sw, $gr, $gw);
  unless (pipe($or, $ow) && pipe($er, $ew) && pipe($sr, $sw) && pipe($gr, $gw)) { answer($c, undef, undef, $! + 0); return }
  my $pid = fork;
  unless (defined $pid) { answer($c, undef, undef, $! + 0); return }
  if ($pid == 0) {
    $SIG{INT} = $SIG{QUIT} = $SIG{HUP} = $SIG{CHLD} = $SIG{PIPE} = 'DEFAULT';
    # A session of its own, so a process group of its own, and no controlling terminal, as under
    # the daemon: one that reads the terminal fails at once rather than stopping (SIGTTIN) out
    # of the foreground group.
    POSIX::setsid();
    close $gw;
    # Nothing runs before Node knows its pid: the go byte comes once the started frame is written.
    # None (end of file): the co-process died first, and the command never runs.
    my $n; do { $n = sysread $gr, my $go, 1 } while (!defined $n && $!{EINTR});
    POSIX::_exit(127) unless $n;
    POSIX::dup2(fileno $null, 0); POSIX::dup2(fileno $ow, 1); POSIX::dup2(fileno $ew, 2);
    # As Node does: supplementary groups dropped whenever a uid or gid is given.
    if ($uid ne '' || $gid ne '') { my $g = $gid ne '' ? $gid : (split ' ', $))[0]; $) = "$g $g"; }
    my $ok = ($gid eq '' || POSIX::setgid($gid)) && ($uid eq '' || POSIX::setuid($uid)) && ($cwd eq '' || chdir $cwd);
    if ($ok) { no warnings 'exec'; exec { $file } $file, @args }
    syswrite $sw, pack('N', $! + 0);
    POSIX::_exit(127);
  }
  close $ow; close $ew; close $sw; close $gr;
  # The child waits for the go byte: its pid and start time (set at fork) are known before it
  # runs anything, and Node has them (the frame written whole) before it may exec.
  $c->{pid} = $pid; $c->{fh} = [$or, $er];
  $cmd{$id} = $running{$pid} = $c;
  say_(join "\0", 'started', $id, $pid, started_at($pid));
  syswrite $gw, 'g'; close $gw;
  # Empty once exec closed the status pipe (close-on-exec); else the errno of the failed step.
  my $status = readall($sr); close $sr;
  return unless length $status;
  waitpid $pid, 0; delete $running{$pid}; delete $cmd{$id};
  close $_ for @{$c->{fh}};
  $c->{pid} = 0; answer($c, undef, undef, unpack 'N', $status);
}

sub request {
  my ($kind, @f) = split /\0/, $_[0], -1;
  if ($kind eq 'run') { run(@f) }
  # Never a reaped command's pid: it may be another process's by now (its pipes can outlive it).
  elsif (my $c = $cmd{$f[0]}) { stop_($c, $f[1]) }
}

for (;;) {
  my $rin = ''; vec($rin, 0, 1) = 1;
  for my $c (values %cmd) { vec($rin, fileno $_, 1) = 1 for grep defined, @{$c->{fh}} }
  my $n = select(my $rout = $rin, undef, undef, %cmd ? 0.05 : undef);
  if ($n > 0) {
    if (vec($rout, 0, 1)) {
      my $got = sysread STDIN, $in, 65536, length $in;
      quit() if defined $got && $got == 0;
      while (length $in >= 4 && length $in >= 4 + unpack 'N', $in) {
        my $len = unpack 'N', $in; request(substr $in, 4, $len); substr($in, 0, 4 + $len) = '';
      }
    }
    for my $c (values %cmd) {
      for my $i (0, 1) {
        my $fh = $c->{fh}[$i]; next unless defined $fh && vec($rout, fileno $fh, 1);
        my $got = sysread $fh, my $buf, 65536;
        next if !defined $got && $!{EINTR};
        unless ($got) { close $fh; $c->{fh}[$i] = undef; next }
        next if $c->{size}[$i] > $max;
        $c->{size}[$i] += $got;
        if ($c->{size}[$i] > $max) {
          $c->{error} //= ($i ? 'stderr' : 'stdout') . " exceeded $max bytes";
          stop_($c, 'KILL');
        } else { $c->{out}[$i] .= $buf }
      }
    }
  }
  while ((my $pid = waitpid(-1, POSIX::WNOHANG())) > 0) { my $c = delete $running{$pid}; $c->{status} = $? if $c }
  for my $c (values %cmd) {
    next unless defined $c->{status} && ($c->{stopped} || !grep defined, @{$c->{fh}});
    # A stopped command's leftovers may still hold its pipes: its result is settled without them.
    close $_ for grep defined, @{$c->{fh}};
    my $s = $c->{status};
    answer($c, $s & 127 ? undef : $s >> 8, $s & 127 || undef, undef);
    delete $cmd{$c->{id}};
  }
}
`;

const SIGNAL_NAMES = new Map(Object.entries(osConstants.signals).map(([name, num]) => [num, name as NodeJS.Signals]));
const ERRNO_NAMES = new Map(Object.entries(osConstants.errno).map(([name, num]) => [num, name]));
const NUL = 0;

interface Pending {
  file: string;
  resolve(ended: Ended): void;
  /** Once the co-process said the command was forked (it execs only after): its pid and start time (empty if unknown). */
  started?: { pid: number; at: string };
}

/** Field 22 of /proc/<pid>/stat (the start time), or '' when the process is gone or it cannot be read. */
function startTime(pid: number): string {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? '';
  } catch {
    return '';
  }
}

/**
 * Kills a command the co-process started and can no longer watch, with what it started (its
 * process group): 'killed'; 'ended' when its pid is gone, or another process's by now (the
 * start time differs); 'unverified' when its start time was not read as it started: the pid
 * may be another process's by now, which is not killed on a guess.
 */
function killStarted(started: { pid: number; at: string }): 'killed' | 'ended' | 'unverified' {
  if (started.at === '') return 'unverified';
  if (startTime(started.pid) !== started.at) return 'ended';
  // Its process group (what it started too), whose id is its pid while it lives; the command alone without it.
  for (const target of [-started.pid, started.pid]) {
    try {
      process.kill(target, 'SIGKILL');
      return 'killed';
    } catch {}
  }
  return 'ended';
}

/** What happened to a command left without its co-process, for its call's error. */
function lostCommand(why: string, started: { pid: number; at: string } | undefined): string {
  if (!started) return why;
  const verdict = killStarted(started);
  if (verdict === 'killed') return `${why}; the command (pid ${started.pid}) was killed`;
  if (verdict === 'unverified')
    return `${why}; the command (pid ${started.pid}) may still run: its start time was not known, so the pid could not be told from a reused one and was not killed`;
  return why;
}

/** What to do for each live co-process when this process exits: one 'exit' listener for all spawners. */
const atExit = new Set<() => void>();
let exitListener = false;
function onExit(stop: () => void): void {
  atExit.add(stop);
  if (exitListener) return;
  exitListener = true;
  process.on('exit', () => {
    for (const f of atExit) f();
  });
}

/**
 * The Node side of the co-process: started on the first command, let go after `idleMs`
 * without one, started again after it died. When the process ends, however (its exit, a
 * SIGKILL), the co-process's input closes: it kills the commands it runs and exits. Should it
 * die, the commands it started are killed and their calls fail.
 */
export class Spawner {
  /** Commands handed to the co-process so far; tests read it. */
  requests = 0;
  private child: ChildProcess | undefined;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private input: Buffer[] = [];
  private received = 0;
  /** The environment the co-process has, as last sent. */
  private sentEnv: string | undefined;

  private idle: NodeJS.Timeout | undefined;

  /** `idleMs`: an idle co-process is let go after this long, so an idle minion keeps its footprint. */
  constructor(
    private readonly perl: string,
    private readonly maxOutputBytes: number,
    private readonly idleMs = 30_000,
  ) {}

  /** The co-process's pid, once started; tests read it. */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** undefined when a field holds a NUL, which the frames cannot carry: the caller spawns directly, as it would fail there. */
  start(file: string, args: readonly string[], opts: SpawnOptions): Started | undefined {
    const entries = Object.entries({ ...process.env, ...opts.env }).map(([k, v]) => `${k}=${v}`);
    const env = entries.join('\0');
    const fields = [String(opts.uid ?? ''), String(opts.gid ?? ''), opts.cwd ?? '', file, String(args.length), ...args];
    // Before the co-process starts: a command it cannot carry does not start one.
    if (fields.some((f) => f.includes('\0')) || entries.some((e) => e.includes('\0'))) return undefined;
    this.process();
    if (env === this.sentEnv) fields.push('');
    else fields.push(String(entries.length), ...entries);
    this.sentEnv = env;
    const id = this.nextId++;
    this.requests++;
    const ended = new Promise<Ended>((resolve) => this.pending.set(id, { file, resolve }));
    this.send(['run', String(id), ...fields]);
    return {
      ended,
      kill: (signal) => {
        if (this.pending.has(id)) this.send(['kill', String(id), String(osConstants.signals[signal])]);
      },
    };
  }

  private send(fields: string[]): void {
    const child = this.process();
    const body = Buffer.from(fields.join('\0'));
    const head = Buffer.alloc(4);
    head.writeUInt32BE(body.length);
    child.stdin!.write(Buffer.concat([head, body]));
    setRef(child, true);
    clearTimeout(this.idle);
  }

  /** Lets an idle co-process go: its input closes and it exits; the next command starts another. */
  private retire(): void {
    const child = this.child;
    if (!child || this.pending.size > 0) return;
    this.child = undefined;
    child.stdin!.end();
  }

  private process(): ChildProcess {
    if (this.child) return this.child;
    const child = spawn(this.perl, ['-e', SCRIPT, String(this.maxOutputBytes)], { stdio: ['pipe', 'pipe', 'inherit'] });
    this.child = child;
    this.input = [];
    this.received = 0;
    this.sentEnv = undefined;
    // A write to a co-process that died fails here; its 'exit' settles what was pending.
    child.stdin!.on('error', () => {});
    child.stdout!.on('data', (chunk: Buffer) => this.receive(chunk));
    // Commands it started would run on unwatched: they are killed, and their calls fail saying so.
    const lost = (why: string) => {
      atExit.delete(stop);
      if (this.child !== child) return;
      this.child = undefined;
      const empty = Buffer.alloc(0);
      for (const p of this.pending.values()) {
        const error = lostCommand(why, p.started);
        p.resolve({ code: null, signal: null, pid: p.started?.pid, stdout: empty, stderr: empty, error });
      }
      this.pending.clear();
    };
    // This process exiting: the commands it heard of, at once. The co-process sees its input close
    // as this process ends, and kills the rest (one whose started frame was still unread) before it exits.
    const stop = () => {
      if (this.child === child) for (const p of this.pending.values()) if (p.started) killStarted(p.started);
    };
    onExit(stop);
    child.on('error', (err) => lost(`spawner failed: ${err.message}`));
    // 'close', not 'exit': every frame it wrote (a command's start) has been read by then.
    child.on('close', (code, signal) => lost(`spawner exited (${signal ?? `code ${code}`}) while the command ran`));
    return child;
  }

  private receive(chunk: Buffer): void {
    // Chunks wait in a list until their frame is whole: an answer may carry 64 MiB of output.
    this.input.push(chunk);
    this.received += chunk.length;
    while (this.received >= 4) {
      if (this.input[0]!.length < 4) this.input = [Buffer.concat(this.input)];
      const length = this.input[0]!.readUInt32BE(0);
      if (this.received < 4 + length) break;
      const whole = this.input.length === 1 ? this.input[0]! : Buffer.concat(this.input);
      this.answer(whole.subarray(4, 4 + length));
      const buf = whole.subarray(4 + length);
      this.input = buf.length ? [buf] : [];
      this.received = buf.length;
    }
    if (this.pending.size === 0 && this.child) {
      setRef(this.child, false);
      clearTimeout(this.idle);
      this.idle = setTimeout(() => this.retire(), this.idleMs).unref();
    }
  }

  private answer(frame: Buffer): void {
    if (frame.subarray(0, 8).toString('latin1') === 'started\0') {
      const [id, pid, at] = frame.toString('latin1', 8).split('\0') as [string, string, string];
      const pending = this.pending.get(Number(id));
      if (pending) pending.started = { pid: Number(pid), at: at ?? '' };
      return;
    }
    const fields: string[] = [];
    let at = 0;
    while (fields.length < 8) {
      const end = frame.indexOf(NUL, at);
      fields.push(frame.toString('utf8', at, end));
      at = end + 1;
    }
    const [, id, pid, code, signal, errno, error, outLength] = fields as [string, string, string, string, string, string, string, string];
    const pending = this.pending.get(Number(id));
    if (!pending) return;
    this.pending.delete(Number(id));
    const split = at + Number(outLength);
    pending.resolve({
      code: code === '' ? null : Number(code),
      signal: signal === '' ? null : (SIGNAL_NAMES.get(Number(signal)) ?? null),
      pid: Number(pid) || undefined,
      // Copies: the frame's buffer is the whole read, not to be kept alive by one result.
      stdout: Buffer.from(frame.subarray(at, split)) as Buffer,
      stderr: Buffer.from(frame.subarray(split)) as Buffer,
      // The message Node's spawn gives for the same failure.
      ...(errno !== ''
        ? { error: `spawn ${pending.file} ${ERRNO_NAMES.get(Number(errno)) ?? `errno ${errno}`}` }
        : error !== '' && { error }),
    });
  }
}

/** An idle co-process must not keep the minion's event loop alive. */
function setRef(child: ChildProcess, on: boolean): void {
  for (const handle of [child, child.stdin, child.stdout] as unknown as { ref(): void; unref(): void }[]) {
    if (on) handle.ref();
    else handle.unref();
  }
}

/** perl from PATH (or the usual places), if installed. */
export function findPerl(): string | undefined {
  const dirs = `${process.env.PATH ?? ''}:/usr/bin:/bin`.split(':').filter((d) => d !== '');
  for (const dir of dirs) {
    try {
      accessSync(join(dir, 'perl'), fsConstants.X_OK);
      return join(dir, 'perl');
    } catch {}
  }
  return undefined;
}
