import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cluster, ROOT } from '../support/cluster.js';

const PILLAR = join(ROOT, 'test', 'fixtures', 'pillar');
const CHILD = join(import.meta.dirname, 'socket-monitor-child.mjs');

describe("a socket monitor's endpoint that libzmq still holds under a freed observer's address", () => {
  const cluster = new Cluster(PILLAR, { auto_accept: true });
  beforeAll(() => cluster.startMaster(), 30_000);
  afterAll(() => cluster.close());

  it('makes zeromq.js throw EADDRINUSE, and the minion channel opens and works all the same', async () => {
    const { stdout } = await promisify(execFile)(process.execPath, ['--expose-gc', CHILD, String(cluster.port)], {
      cwd: ROOT,
      timeout: 30_000,
    });
    const result = JSON.parse(stdout);
    // The collision is real (the raw API throws), and the channel met it too: it tried another observer.
    expect(result.raw).toBe('EADDRINUSE');
    expect(result.channel).toBe('ok');
    expect(result.logged).toContain('socket monitor endpoint still in use by libzmq, trying another');
    expect(result.ping).toBe(true);
  }, 40_000);
});
