import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatHighstate } from '../src/output/highstate.js';
import { Redactor } from '../src/redact.js';
import { redactingLog } from '../src/host/log.js';
import { summarize, type StateResults } from '../src/run/results.js';
import { processRunner } from '../src/host/runner.js';
import { captureLogger } from './helpers.js';

/** Exited (a zombie at most). */
function gone(pid: number): boolean {
  try {
    return /^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8'));
  } catch {
    return true;
  }
}

async function until(check: () => boolean, ms = 5_000): Promise<boolean> {
  for (const end = Date.now() + ms; Date.now() < end; ) {
    if (check()) return true;
    await new Promise((r) => setTimeout(r, 20));
  }
  return check();
}

const base = { __sls__: 'web', start_time: '10:00:00.000000', duration: 1.5 };
const results: StateResults = {
  'test_|-a_|-a_|-nop': { ...base, name: 'a', result: true, changes: {}, comment: 'Success!', __id__: 'a', __run_num__: 0 },
  'cmd_|-b_|-echo hi_|-run': {
    ...base,
    name: 'echo hi',
    result: true,
    changes: { retcode: 0, stdout: 'line1\nline2', ok: true, list: ['x', 'y'] },
    comment: 'Command "echo hi" run',
    __id__: 'b',
    __run_num__: 1,
  },
  'test_|-c_|-c_|-fail_without_changes': {
    ...base,
    name: 'c',
    result: false,
    changes: {},
    comment: 'first\nsecond',
    __id__: 'c',
    __run_num__: 2,
  },
};

describe('highstate output', () => {
  it('lays out each state and the summary as Salt does', () => {
    const text = formatHighstate(results, { color: false, minionId: 'web1' });
    expect(text).toContain('          ID: b\n    Function: cmd.run\n        Name: echo hi\n      Result: True\n');
    expect(text).toContain(
      '     Changes:\n              ----------\n              list:\n                  - x\n                  - y\n              ok:\n                  True\n              retcode:\n                  0\n              stdout:\n                  line1\n                  line2\n',
    );
    expect(text).toContain('     Comment: first\n              second\n');
    expect(text).toContain('Succeeded: 2 (changed=1)\nFailed:    1\n------------\nTotal states run:     3\nTotal run time:     4.500 ms\n');
    expect(text).not.toContain('\x1b[');
  });

  it('colours by outcome on a terminal', () => {
    const text = formatHighstate(results, { color: true, minionId: 'web1' });
    expect(text).toContain('\x1b[0;32m----------\n          ID: a');
    expect(text).toContain('\x1b[0;36m----------\n          ID: b');
    expect(text).toContain('\x1b[0;31m----------\n          ID: c');
    expect(text).toContain('\x1b[0;31mFailed:    1');
  });

  it('summarizes', () => {
    expect(summarize(results)).toEqual({ succeeded: 2, failed: 1, changed: 1, wouldChange: 0, total: 3, durationMs: 4.5 });
  });
});

// Both paths: the spawner co-process, and a direct spawn (commands given input; no perl).
describe.each([
  ['through the spawner', true],
  ['spawned directly', false],
])('command runner, %s', (_, spawner) => {
  it('feeds stdin from a Buffer and never logs it', async () => {
    const lines: string[] = [];
    const logger = captureLogger(lines);
    const runner = processRunner(redactingLog(logger, new Redactor()), { spawner });
    const r = await runner.run('cat', [], { stdin: Buffer.from('key material 123') });
    expect(r).toMatchObject({ exitCode: 0, stdout: 'key material 123' });
    expect(lines.join('')).toContain('"input":"16 bytes"');
    expect(lines.join('')).not.toContain('key material');
  });

  it('reports a command that cannot start or times out, without throwing', async () => {
    const runner = processRunner(undefined, { spawner });
    expect(await runner.run('/nonexistent/program', [])).toMatchObject({ exitCode: -1, error: expect.stringMatching(/ENOENT/) });
    expect(await runner.run('sleep', ['5'], { timeoutMs: 100 })).toMatchObject({ exitCode: -1, error: 'timed out after 100 ms' });
  });

  it('returns exit code and output without the final newline, in the given directory, with env added to the inherited one', async () => {
    const runner = processRunner(undefined, { spawner });
    // biome-ignore lint/suspicious/noTemplateCurlyInString: a shell parameter expansion, for /bin/sh to expand
    const r = await runner.run('/bin/sh', ['-c', 'pwd; echo "$BRINE_T:${PATH:+path}"; echo oops >&2; exit 3'], {
      cwd: '/tmp',
      env: { BRINE_T: 'x' },
    });
    expect(r).toMatchObject({ exitCode: 3, stdout: '/tmp\nx:path', stderr: 'oops' });
    expect((await runner.run('printf', ['a\\n\\n'])).stdout).toBe('a\n');
    expect(r.pid).toBeGreaterThan(0);
    expect(r.error).toBeUndefined();
  });

  it('does not fail when the command exits without reading its input', async () => {
    const r = await processRunner(undefined, { spawner }).run('true', [], { stdin: Buffer.alloc(4 * 1024 * 1024, 1) });
    expect(r).toMatchObject({ exitCode: 0 });
    expect(r.error).toBeUndefined();
  });

  it('kills a command that ignores SIGTERM after its timeout, without waiting on pipes its children hold, and one whose output runs away', async () => {
    const runner = processRunner(undefined, { spawner });
    const started = Date.now();
    const stubborn = await runner.run('/bin/sh', ['-c', 'trap "" TERM; sleep 30 & echo $!; wait'], { timeoutMs: 100 });
    expect(stubborn).toMatchObject({ exitCode: -1, error: 'timed out after 100 ms' });
    expect(Date.now() - started).toBeLessThan(15_000);
    // Through the spawner, the command's process group is killed: its background sleep too.
    if (spawner) expect(await until(() => gone(Number(stubborn.stdout)))).toBe(true);
    else process.kill(Number(stubborn.stdout), 'SIGKILL');
    const flood = await runner.run('head', ['-c', String(80 * 1024 * 1024), '/dev/zero']);
    expect(flood).toMatchObject({ exitCode: -1, error: expect.stringMatching(/^stdout exceeded \d+ bytes$/) });
  });

  // The owner is a separate Node process in a process group of its own, as at a terminal, running the built runner (npm run build first).
  it('passes a Ctrl-C at the terminal on to the command', async () => {
    const pidFile = join(mkdtempSync(join(tmpdir(), 'runner-')), 'pid');
    const built = join(import.meta.dirname, '../dist/host/runner.js');
    const trapping = `trap 'echo interrupted; exit 3' INT; echo $$ > ${pidFile}; while :; do sleep 0.05; done`;
    const script = `const { processRunner } = await import(${JSON.stringify(built)});
      process.on('SIGINT', () => {});
      const r = await processRunner(undefined, { spawner: ${spawner} }).run('/bin/sh', ['-c', ${JSON.stringify(trapping)}]);
      console.log(JSON.stringify(r)); process.exit(0);`;
    const owner = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'], detached: true });
    let out = '';
    owner.stdout.on('data', (d: Buffer) => {
      out += d;
    });
    const closed = new Promise((r) => owner.on('close', r));
    expect(await until(() => existsSync(pidFile) && readFileSync(pidFile, 'utf8').endsWith('\n'))).toBe(true);
    const command = Number(readFileSync(pidFile, 'utf8'));
    // What the terminal does on Ctrl-C: SIGINT to its foreground process group, the owner's.
    process.kill(-owner.pid!, 'SIGINT');
    const late = new Promise((r) => setTimeout(r, 5_000));
    await Promise.race([closed, late]);
    for (const group of [owner.pid!, command]) {
      try {
        process.kill(-group, 'SIGKILL');
      } catch {}
    }
    expect(JSON.parse(out || '{}')).toMatchObject({ exitCode: 3, stdout: 'interrupted' });
  });

  it('reports a command killed by a signal', async () => {
    expect(await processRunner(undefined, { spawner }).run('/bin/sh', ['-c', 'kill -9 $$'])).toMatchObject({
      exitCode: -1,
      error: 'killed by SIGKILL',
    });
  });
});
