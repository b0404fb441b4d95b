import { spawn, type ChildProcess } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa, type Result } from 'execa';
import { stringify } from 'yaml';

export const ROOT = join(import.meta.dirname, '..', '..');
export const BIN = join(ROOT, 'node_modules', '.bin');

/** Runs a CLI with a pseudo-terminal for stdin/stdout/stderr (util-linux `script`), so it sees a TTY. */
export function runOnTty(bin: 'master' | 'minion', args: string[], env: NodeJS.ProcessEnv = {}): Promise<Result> {
  const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  const line = [join(BIN, bin), ...args].map(quote).join(' ');
  return execa('script', ['-qec', line, '/dev/null'], { reject: false, timeout: 30_000, env: { ...process.env, NO_COLOR: '', ...env } });
}

/** A free TCP port on the loopback interface. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

/** A daemon started from the real CLI, with everything it prints kept for assertions. */
export class Daemon {
  output = '';
  private exited: Promise<number | null>;

  constructor(readonly child: ChildProcess) {
    child.stdout!.on('data', (d: Buffer) => (this.output += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (this.output += d.toString()));
    this.exited = new Promise((done) => child.once('exit', (code) => done(code)));
  }

  /** Parsed JSON log lines (pino). */
  lines(): Record<string, unknown>[] {
    return this.output
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  }

  count(msg: string): number {
    return this.lines().filter((l) => l['msg'] === msg).length;
  }

  /** Waits until a log line with this message has appeared `times` times in all. */
  async waitFor(msg: string, opts: { times?: number; timeoutMs?: number } = {}): Promise<Record<string, unknown>> {
    const times = opts.times ?? 1;
    const deadline = Date.now() + (opts.timeoutMs ?? 20_000);
    for (;;) {
      const hits = this.lines().filter((l) => l['msg'] === msg);
      if (hits.length >= times) return hits[times - 1]!;
      if (Date.now() > deadline) throw new Error(`timed out waiting for "${msg}" x${times}; output so far:\n${this.output.slice(-3000)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
    return this.exited;
  }
}

export interface MinionOptions {
  id: string;
  /** Separate key directory, e.g. to impersonate an id with another key. */
  pkiName?: string;
  extra?: Record<string, unknown>;
  /** A command the minion runs under, e.g. `['ip', 'netns', 'exec', NAME]` (it must exec the minion, keeping its pid). */
  wrap?: string[];
}

/**
 * A master and minions in a temporary directory on loopback, driven through the
 * compiled `master` and `minion` CLIs exactly as an operator would.
 */
export class Cluster {
  readonly dir = mkdtempSync(join(tmpdir(), 'brine-e2e-'));
  readonly daemons: Daemon[] = [];
  /** stderr of every CLI run (their logs go there), for leak checks. */
  readonly cliStderr: string[] = [];
  port = 0;
  master: Daemon | undefined;
  /** Extra environment for the master process (e.g. its systemd unit's malloc settings). */
  masterEnv: NodeJS.ProcessEnv = {};

  constructor(
    private readonly pillarRoot: string,
    private readonly masterExtra: Record<string, unknown> = {},
    private readonly fileRoot: string = join(ROOT, 'test', 'fixtures', 'states'),
  ) {}

  /** Another master with the same pillar, states and settings (plus `extra`), in its own directory and on its own port. */
  sibling(extra: Record<string, unknown> = {}): Cluster {
    return new Cluster(this.pillarRoot, { ...this.masterExtra, ...extra }, this.fileRoot);
  }

  /**
   * This master (before its start) takes a copy of another's key pair and key
   * directories: the masters of one cluster share both.
   */
  copyPkiFrom(other: Cluster): void {
    cpSync(join(other.dir, 'master-pki'), join(this.dir, 'master-pki'), { recursive: true });
  }

  /** Where minions reach this master. */
  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  get masterConfig(): string {
    return join(this.dir, 'master.yml');
  }

  get auditLog(): string {
    return join(this.dir, 'audit.jsonl');
  }

  minionConfig(id: string, pkiName = id): string {
    return join(this.dir, `minion-${pkiName}.yml`);
  }

  /** The minion daemon's control socket directory (each minion its own, as each host has). */
  minionSockDir(pkiName: string): string {
    return join(this.dir, `minion-run-${pkiName}`);
  }

  /** Writes the master's config (on a free port, the first time); returns its path. */
  async writeMasterConfig(): Promise<string> {
    if (!this.port) this.port = await freePort();
    writeFileSync(
      this.masterConfig,
      stringify({
        interface: '127.0.0.1',
        port: this.port,
        pki_dir: join(this.dir, 'master-pki'),
        pillar_roots: [this.pillarRoot],
        file_roots: [this.fileRoot],
        audit_log: this.auditLog,
        sock_dir: join(this.dir, 'run'),
        // No brine group on a test machine: the socket stays the master user's (the sock_group test sets one).
        sock_group: '',
        cachedir: join(this.dir, 'master-cache'),
        log_level: 'trace',
        ...this.masterExtra,
      }),
    );
    return this.masterConfig;
  }

  async startMaster(): Promise<Daemon> {
    this.master = this.spawn('master', ['-c', await this.writeMasterConfig()]);
    await this.master.waitFor('master listening');
    return this.master;
  }

  writeMinionConfig(opts: MinionOptions): string {
    const pki = opts.pkiName ?? opts.id;
    const file = this.minionConfig(opts.id, pki);
    writeFileSync(
      file,
      stringify({
        master: this.address,
        id: opts.id,
        pki_dir: join(this.dir, `minion-pki-${pki}`),
        cachedir: join(this.dir, `minion-cache-${pki}`),
        sock_dir: this.minionSockDir(pki),
        log_level: 'trace',
        acceptance_wait_time: 1,
        reconnect_max: 2,
        request_timeout: 5,
        master_alive_interval: 5,
        ...opts.extra,
      }),
    );
    return file;
  }

  startMinion(opts: MinionOptions): Daemon {
    return this.spawn('minion', ['-c', this.writeMinionConfig(opts)], opts.wrap);
  }

  spawn(bin: 'master' | 'minion', args: string[], wrap: string[] = []): Daemon {
    const env = { ...process.env, ...(bin === 'master' ? this.masterEnv : {}) };
    const [cmd, ...cmdArgs] = [...wrap, join(BIN, bin), ...args];
    const d = new Daemon(spawn(cmd!, cmdArgs, { stdio: ['ignore', 'pipe', 'pipe'], env }));
    this.daemons.push(d);
    return d;
  }

  /** Runs a CLI to completion; never throws on a non-zero exit. */
  async run(bin: 'master' | 'minion', args: string[]): Promise<Result> {
    const r = await execa(join(BIN, bin), args, { reject: false, timeout: 30_000 });
    this.cliStderr.push(String(r.stderr));
    return r;
  }

  /** `master <command> ... -c <master config>` */
  masterCmd(...args: string[]): Promise<Result> {
    return this.run('master', [...args, '-c', this.masterConfig]);
  }

  keys(...args: string[]): Promise<Result> {
    return this.run('master', ['keys', ...args, '-c', this.masterConfig]);
  }

  async keyList(): Promise<Record<'pending' | 'accepted' | 'rejected' | 'denied', string[]>> {
    const r = await this.keys('list', '--json');
    if (r.exitCode !== 0) throw new Error(`keys list failed: ${String(r.stderr)}`);
    return JSON.parse(String(r.stdout));
  }

  pillar(id: string, args: string[], pkiName?: string): Promise<Result> {
    return this.run('minion', ['pillar', ...args, '-c', this.minionConfig(id, pkiName)]);
  }

  audit(): Record<string, unknown>[] {
    if (!existsSync(this.auditLog)) return [];
    return readFileSync(this.auditLog, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  }

  /** Waits until the audit log holds a record matching `match`. */
  async waitForAudit(match: (r: Record<string, unknown>) => boolean, timeoutMs = 10_000): Promise<Record<string, unknown>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const hit = this.audit().find(match);
      if (hit) return hit;
      if (Date.now() > deadline) throw new Error(`no matching audit record; log:\n${readFileSync(this.auditLog, 'utf8').slice(-3000)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  async close(): Promise<void> {
    await Promise.all(this.daemons.map((d) => d.stop('SIGKILL')));
    rmSync(this.dir, { recursive: true, force: true });
  }
}
