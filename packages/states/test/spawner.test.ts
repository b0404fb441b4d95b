import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { processRunner } from '../src/host/runner.js';
import { findPerl, Spawner } from '../src/host/spawner.js';

const perl = findPerl()!;
const spawner = new Spawner(perl, 64 * 1024 * 1024);
const runner = processRunner(undefined, { spawner });
const direct = processRunner(undefined, { spawner: false });
const alive = (pid: number) => existsSync(`/proc/${pid}`) && !/^State:\s+Z/m.test(readStatus(pid));
afterAll(() => {
  if (spawner.pid) process.kill(spawner.pid, 'SIGKILL');
});

function readStatus(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return '';
  }
}

/** The pid of a child of `parent` whose name (comm) is `name`, or 0. */
function childNamed(parent: number, name: string): number {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (readFileSync(`/proc/${entry}/comm`, 'utf8') === `${name}\n` && Number(fields[1]) === parent) return Number(entry);
    } catch {}
  }
  return 0;
}

async function until(check: () => boolean, ms = 5_000): Promise<boolean> {
  for (const end = Date.now() + ms; Date.now() < end; ) {
    if (check()) return true;
    await new Promise((r) => setTimeout(r, 20));
  }
  return check();
}

describe('spawner co-process', () => {
  it('starts commands itself, not by forking this process', async () => {
    const before = spawner.requests;
    const r = await runner.run('/bin/sh', ['-c', 'echo $PPID']);
    expect(spawner.requests).toBe(before + 1);
    expect(Number(r.stdout)).toBe(spawner.pid);
    expect(Number(r.stdout)).not.toBe(process.pid);
  });

  it('never carries a command given input (a secret): that one is spawned directly', async () => {
    const before = spawner.requests;
    const r = await runner.run('/bin/sh', ['-c', 'cat >/dev/null; echo $PPID'], { stdin: Buffer.from('luks key') });
    expect(r).toMatchObject({ exitCode: 0, stdout: String(process.pid) });
    expect(spawner.requests).toBe(before);
  });

  it('never carries a command whose output is a secret (a password hash): that one is spawned directly', async () => {
    const before = spawner.requests;
    const r = await runner.run('/bin/sh', ['-c', 'echo $PPID'], { secretOutput: true });
    expect(r).toMatchObject({ exitCode: 0, stdout: String(process.pid) });
    expect(spawner.requests).toBe(before);
  });

  it('runs commands side by side', async () => {
    // Each prints when it started and ended (ms): side by side, each started before any ended, whatever the load.
    const results = await Promise.all(
      [1, 2, 3, 4].map((i) => runner.run('/bin/sh', ['-c', `date +%s%3N; sleep 1; date +%s%3N; echo ${i}`])),
    );
    const lines = results.map((r) => r.stdout.split('\n'));
    expect(lines.map((l) => l[2])).toEqual(['1', '2', '3', '4']);
    expect(new Set(results.map((r) => r.pid)).size).toBe(4);
    const lastStart = Math.max(...lines.map((l) => Number(l[0])));
    const firstEnd = Math.min(...lines.map((l) => Number(l[1])));
    expect(lastStart < firstEnd).toBe(true);
  });

  it('lets an idle co-process go, and starts another for the next command', async () => {
    const brief = new Spawner(perl, 1024, 200);
    const run = processRunner(undefined, { spawner: brief });
    const first = await run.run('/bin/sh', ['-c', 'echo $PPID']);
    expect(Number(first.stdout)).toBe(brief.pid);
    expect(await until(() => !alive(Number(first.stdout)))).toBe(true);
    expect(brief.pid).toBeUndefined();
    const next = await run.run('/bin/sh', ['-c', 'echo $PPID']);
    expect(next.exitCode).toBe(0);
    expect(Number(next.stdout)).not.toBe(Number(first.stdout));
    process.kill(brief.pid!, 'SIGKILL');
  });

  it('reports what a direct spawn reports: missing program or directory, exit code, signal, uid and gid', async () => {
    const cases: [string, string[], object][] = [
      ['/nonexistent/program', [], {}],
      ['no-such-program-on-path', [], {}],
      ['/bin/sh', ['-c', 'pwd'], { cwd: '/nonexistent' }],
      ['/bin/sh', ['-c', 'echo out; echo err >&2; exit 7'], {}],
      ['/bin/sh', ['-c', 'kill -TERM $$'], {}],
      ['/bin/sh', ['-c', 'echo "$BRINE_A|$HOME"; pwd'], { env: { BRINE_A: 'a b', HOME: '/nowhere' }, cwd: '/' }],
      ['printf', ['%s|', 'two words', '$HOME', "'q'", ''], {}],
    ];
    if (process.getuid?.() === 0) cases.push(['/bin/sh', ['-c', 'id -u; id -g; id -G'], { uid: 65534, gid: 65534 }]);
    for (const [file, args, opts] of cases) {
      const [viaSpawner, viaSpawn] = await Promise.all([runner.run(file, args, opts), direct.run(file, args, opts)]);
      expect({ ...viaSpawner, pid: typeof viaSpawner.pid }, `${file} ${args.join(' ')}`).toEqual({ ...viaSpawn, pid: typeof viaSpawn.pid });
    }
  });

  it('kills a command whose spawner was killed under it, reports it as failed, and starts a new spawner for the next', async () => {
    await runner.run('true', []);
    const first = spawner.pid!;
    const pidFile = join(mkdtempSync(join(tmpdir(), 'spawner-')), 'pid');
    const pending = runner.run('/bin/sh', ['-c', `echo $$ > ${pidFile}; exec sleep 30`]);
    // Running, so Node was told its pid before it could run (its 'close' reads every frame first).
    expect(await until(() => existsSync(pidFile) && readFileSync(pidFile, 'utf8').endsWith('\n'))).toBe(true);
    const command = Number(readFileSync(pidFile, 'utf8'));
    expect(alive(command)).toBe(true);
    process.kill(first, 'SIGKILL');
    // Not left running unwatched (reparented to init) with nobody to stop it.
    expect(await until(() => !alive(command))).toBe(true);
    expect(await pending).toMatchObject({
      exitCode: -1,
      error: `spawner exited (SIGKILL) while the command ran; the command (pid ${command}) was killed`,
    });
    const next = await runner.run('/bin/sh', ['-c', 'echo $PPID']);
    expect(next.exitCode).toBe(0);
    expect(Number(next.stdout)).toBe(spawner.pid);
    expect(spawner.pid).not.toBe(first);
  });

  it('runs each command in its own process group, and kills the group: what a command started in the background goes too', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'spawner-'));
    const background = async (pidFile: string) => {
      expect(await until(() => existsSync(pidFile) && readFileSync(pidFile, 'utf8').endsWith('\n'))).toBe(true);
      return readFileSync(pidFile, 'utf8').trim().split(' ').map(Number) as [number, number];
    };
    const ownGroup = readFileSync('/proc/self/stat', 'utf8').split(') ')[1]!.split(' ')[2];
    // Timed out.
    const timedOut = runner.run('/bin/sh', ['-c', `sleep 30 & echo $$ $! > ${dir}/a; wait`], { timeoutMs: 300 });
    const [leader, sleeper] = await background(join(dir, 'a'));
    const group = readFileSync(`/proc/${sleeper}/stat`, 'utf8').split(') ')[1]!.split(' ')[2];
    expect(group).toBe(String(leader));
    expect(group).not.toBe(ownGroup);
    expect(await timedOut).toMatchObject({ exitCode: -1, error: 'timed out after 300 ms' });
    expect(await until(() => !alive(sleeper))).toBe(true);
    // Its co-process killed under it.
    await runner.run('true', []);
    const lost = runner.run('/bin/sh', ['-c', `sleep 30 & echo $$ $! > ${dir}/b; wait`]);
    const [command, orphan] = await background(join(dir, 'b'));
    process.kill(spawner.pid!, 'SIGKILL');
    expect(await lost).toMatchObject({ error: `spawner exited (SIGKILL) while the command ran; the command (pid ${command}) was killed` });
    expect(await until(() => !alive(orphan))).toBe(true);
  });

  it('tells Node the pid of a command before the command runs: one that stops its co-process at once is still killed with it', async () => {
    await runner.run('true', []);
    const pidFile = join(mkdtempSync(join(tmpdir(), 'spawner-')), 'pid');
    // Its co-process stopped before it could say anything more: Node heard of the command before it ran.
    const pending = runner.run('/bin/sh', ['-c', `kill -STOP $PPID; echo $$ > ${pidFile}; exec sleep 30`]);
    expect(await until(() => existsSync(pidFile) && readFileSync(pidFile, 'utf8').endsWith('\n'))).toBe(true);
    const command = Number(readFileSync(pidFile, 'utf8'));
    process.kill(spawner.pid!, 'SIGKILL');
    expect(await until(() => !alive(command))).toBe(true);
    expect(await pending).toMatchObject({
      exitCode: -1,
      error: `spawner exited (SIGKILL) while the command ran; the command (pid ${command}) was killed`,
    });
  });

  it('kills a command whose name holds ") " when its spawner is killed under it (both ends read the start time alike)', async () => {
    await runner.run('true', []);
    // Its name (comm) "x) y" makes /proc/<pid>/stat read "<pid> (x) y) S …": the fields start after the last ')'.
    const program = join(mkdtempSync(join(tmpdir(), 'spawner-')), 'x) y');
    copyFileSync('/bin/sleep', program);
    chmodSync(program, 0o755);
    const pending = runner.run(program, ['30']);
    let command = 0;
    expect(await until(() => (command = childNamed(spawner.pid!, 'x) y')) > 0)).toBe(true);
    process.kill(spawner.pid!, 'SIGKILL');
    expect(await until(() => !alive(command))).toBe(true);
    expect(await pending).toMatchObject({
      exitCode: -1,
      error: `spawner exited (SIGKILL) while the command ran; the command (pid ${command}) was killed`,
    });
  });

  it('does not kill a pid whose start time it never learnt (it may be another process by now), and says so', async () => {
    // A stand-in co-process: on the first request it says the command started as `victim`, with no
    // start time (its /proc entry could not be read), then dies.
    const victim = spawn('sleep', ['30'], { stdio: 'ignore' });
    const dir = mkdtempSync(join(tmpdir(), 'spawner-'));
    const body = Buffer.from(`started\0${1}\0${victim.pid}\0`);
    const head = Buffer.alloc(4);
    head.writeUInt32BE(body.length);
    writeFileSync(join(dir, 'frame'), Buffer.concat([head, body]));
    const fake = join(dir, 'perl');
    writeFileSync(fake, `#!/bin/sh\nhead -c 4 >/dev/null\ncat '${join(dir, 'frame')}'\n`, { mode: 0o755 });
    const r = await processRunner(undefined, { spawner: new Spawner(fake, 1024) }).run('true', []);
    expect(r).toMatchObject({
      exitCode: -1,
      pid: victim.pid,
      error: `spawner exited (code 0) while the command ran; the command (pid ${victim.pid}) may still run: its start time was not known, so the pid could not be told from a reused one and was not killed`,
    });
    expect(alive(victim.pid!)).toBe(true);
    victim.kill('SIGKILL');
  });

  it('does not start a co-process for a command it cannot carry (a NUL in an argument or the environment)', async () => {
    const fresh = new Spawner(perl, 1024);
    expect(fresh.start('/bin/echo', ['a\0b'], {})).toBeUndefined();
    expect(fresh.start('/bin/echo', ['ab'], { env: { BRINE_X: 'a\0b' } })).toBeUndefined();
    expect(fresh.pid).toBeUndefined();
    expect(fresh.requests).toBe(0);
    // The runner then spawns it directly, which fails as Node fails it.
    await expect(processRunner(undefined, { spawner: fresh }).run('/bin/echo', ['a\0b'])).rejects.toThrow(/null bytes/);
    expect(fresh.pid).toBeUndefined();
  });

  // Its own pid namespace (root there), where the next pid can be chosen: /proc/sys/kernel/ns_last_pid.
  const pidNamespaces = spawnSync('unshare', ['-Urpf', '--mount-proc', 'true']).status === 0;
  it.runIf(pidNamespaces)(
    'answers every command when a reaped one still unanswered has its pid handed to the next',
    async () => {
      const dir = mkdtempSync(join(tmpdir(), 'spawner-'));
      const wrapper = join(dir, 'perl');
      writeFileSync(wrapper, `#!/bin/sh\nexec unshare -Urpf --mount-proc ${perl} "$@"\n`, { mode: 0o755 });
      const ns = new Spawner(wrapper, 1024, 200);
      const run = processRunner(undefined, { spawner: ns });
      const pidFile = join(dir, 'pid');
      // Exits at once and is reaped, but stays unanswered while its background sleep holds its pipes;
      // that one in a session of its own, else the process group it would stay in keeps the pid taken.
      const first = run.run('/bin/sh', ['-c', `echo $$ > ${pidFile}; setsid sleep 2 & exit 0`]);
      expect(await until(() => existsSync(pidFile) && readFileSync(pidFile, 'utf8').endsWith('\n'))).toBe(true);
      const reused = Number(readFileSync(pidFile, 'utf8'));
      // Once it is reaped (its pid free), the next pid handed out is its.
      const handOut = `while [ -e /proc/${reused} ]; do sleep 0.01; done; echo ${reused - 1} > /proc/sys/kernel/ns_last_pid`;
      expect((await run.run('/bin/sh', ['-c', handOut])).exitCode).toBe(0);
      const second = await run.run('/bin/sh', ['-c', 'echo $$']);
      expect(Number(second.stdout)).toBe(reused);
      const late = new Promise((r) => setTimeout(() => r('never answered'), 8_000));
      expect(await Promise.race([first, late])).toMatchObject({ exitCode: 0 });
      // Idle, it is let go: its namespace goes with it.
      expect(await until(() => ns.pid === undefined)).toBe(true);
    },
    15_000,
  );

  it('listens for this process exit once, however many spawners run', async () => {
    const before = process.listenerCount('exit');
    const many = [1, 2, 3].map(() => new Spawner(perl, 1024));
    await Promise.all(many.map((s) => processRunner(undefined, { spawner: s }).run('true', [])));
    expect(many.every((s) => s.pid !== undefined)).toBe(true);
    expect(process.listenerCount('exit') - before).toBeLessThanOrEqual(1);
    for (const s of many) process.kill(s.pid!, 'SIGKILL');
  });

  // The owner is a separate Node process running the built runner (npm run build first).
  const built = join(import.meta.dirname, '../dist/host/runner.js');
  for (const [how, end] of [
    ['exits', 'process.exit(0)'],
    ['is killed', "process.kill(process.pid, 'SIGKILL')"],
    ['runs out of work', ''],
  ] as const) {
    it(`leaves no spawner behind when its process ${how}`, async () => {
      const script = `const { processRunner } = await import(${JSON.stringify(built)});
        const r = await processRunner().run('/bin/sh', ['-c', 'echo $PPID']);
        console.log(r.stdout); ${end}`;
      const owner = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
      let out = '';
      owner.stdout.on('data', (d: Buffer) => {
        out += d;
      });
      await new Promise((r) => owner.on('close', r));
      const pid = Number(out.trim());
      expect(pid).toBeGreaterThan(0);
      expect(await until(() => !alive(pid))).toBe(true);
    });
  }

  // script(1) runs the owner on a terminal of its own (a pty), as `minion apply --local` at a shell.
  const script1 = spawnSync('script', ['--version']).status === 0;
  it.runIf(script1)(
    'runs commands without the controlling terminal: one reading it fails at once, as under the daemon, rather than stopping',
    async () => {
      const dir = mkdtempSync(join(tmpdir(), 'spawner-'));
      const ownerFile = join(dir, 'owner.mjs');
      writeFileSync(
        ownerFile,
        `const { processRunner } = await import(${JSON.stringify(built)});
      const r = await processRunner().run('/bin/sh', ['-c', 'exec cat /dev/tty'], { timeoutMs: 3000 });
      console.log(JSON.stringify(r)); process.exit(0);`,
      );
      const owner = spawn('script', ['-qec', `${process.execPath} ${ownerFile}`, '/dev/null'], { stdio: ['pipe', 'pipe', 'inherit'] });
      let out = '';
      owner.stdout.on('data', (d: Buffer) => {
        out += d;
      });
      await new Promise((r) => owner.on('close', r));
      const line = out.split(/\r?\n/).find((l) => l.startsWith('{'));
      expect(JSON.parse(line ?? '{}')).toMatchObject({ exitCode: 1, stderr: expect.stringMatching(/\/dev\/tty/) });
    },
  );

  it('kills the commands its co-process runs, and what they started, when its process is killed (SIGKILL, as by the OOM killer)', async () => {
    const pidFile = join(mkdtempSync(join(tmpdir(), 'spawner-')), 'pid');
    const script = `const { processRunner } = await import(${JSON.stringify(built)});
      const { existsSync, readFileSync } = await import('node:fs');
      void processRunner().run('/bin/sh', ['-c', 'sleep 30 & echo $$ $! > ${pidFile}; wait']);
      const t = setInterval(() => { if (existsSync(${JSON.stringify(pidFile)}) && readFileSync(${JSON.stringify(pidFile)}, 'utf8').endsWith('\\n')) process.kill(process.pid, 'SIGKILL'); }, 20);`;
    const owner = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'inherit', 'inherit'] });
    expect(await new Promise((r) => owner.on('close', (_, signal) => r(signal)))).toBe('SIGKILL');
    const [command, background] = readFileSync(pidFile, 'utf8').trim().split(' ').map(Number) as [number, number];
    expect(command).toBeGreaterThan(0);
    expect(await until(() => !alive(command) && !alive(background))).toBe(true);
  });

  it('kills the commands its co-process runs when its process exits', async () => {
    const pidFile = join(mkdtempSync(join(tmpdir(), 'spawner-')), 'pid');
    const script = `const { processRunner } = await import(${JSON.stringify(built)});
      const { existsSync } = await import('node:fs');
      void processRunner().run('/bin/sh', ['-c', 'echo $$ > ${pidFile}; exec sleep 30']);
      const t = setInterval(() => { if (existsSync(${JSON.stringify(pidFile)})) { clearInterval(t); setImmediate(() => process.exit(0)); } }, 20);`;
    // The command runs only once its started frame is in the pipe; the I/O poll before setImmediate's callback reads it.
    const owner = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'inherit', 'inherit'] });
    await new Promise((r) => owner.on('close', r));
    const command = Number(readFileSync(pidFile, 'utf8'));
    expect(command).toBeGreaterThan(0);
    expect(await until(() => !alive(command))).toBe(true);
  });
});
