import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Cluster, ROOT } from '../support/cluster.js';
import { Hostile, x25519KeyPair, type RawKeyPair } from './hostile-client.js';

export const PILLAR = join(ROOT, 'test', 'fixtures', 'pillar');
/** Every secret in the fixture pillar: none may show up where it does not belong. */
export const SECRETS = ['DB1-SECRET-7f3a9c', 'WEB1-SECRET-b2e4d1', 'VAULT-SECRET-5d9e21'];

/** A master for attacks, with the limits set low enough to reach in a test. */
export function attackCluster(extra: Record<string, unknown> = {}): Cluster {
  return new Cluster(PILLAR, { peer_timeout: 3, max_pending_keys: 40, max_pending_keys_per_address: 20, ...extra });
}

/** Records a key as accepted the way `master keys accept` leaves it: one base64 line in pki_dir/minions/<id>. */
export function acceptKey(cluster: Cluster, id: string, key: RawKeyPair = x25519KeyPair()): RawKeyPair {
  writeFileSync(join(cluster.dir, 'master-pki', 'minions', id), `${Buffer.from(key.publicKey).toString('base64')}\n`, { mode: 0o644 });
  return key;
}

/** A hostile client with an accepted key and an open session. */
export async function authenticated(
  cluster: Cluster,
  id: string,
  opts: { host?: string; role?: 'cli' | 'daemon'; grains?: Record<string, unknown> } = {},
): Promise<{ client: Hostile; key: RawKeyPair }> {
  const key = acceptKey(cluster, id);
  const client = new Hostile({ port: cluster.port, ...(opts.host && { host: opts.host }) });
  const outcome = await client.authenticate(id, key, { role: opts.role ?? 'cli', grains: opts.grains ?? {} });
  if (outcome.status !== 'accepted') throw new Error(`expected an accepted session for ${id}, got ${outcome.status}: ${outcome.message}`);
  return { client, key };
}

/** The master's resident set size in MiB, from /proc. */
export function rssMiB(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8')
    .split('\n')
    .find((l) => l.startsWith('VmRSS:'))!;
  return Number(line.split(/\s+/)[1]) / 1024;
}

/** TCP connections in ESTABLISHED state whose local port is `port` (the master's side of each). */
export function establishedTo(port: number): number {
  const out = execFileSync('ss', ['-Htn', 'state', 'established', `( sport = :${port} )`], { encoding: 'utf8' });
  return out.split('\n').filter(Boolean).length;
}

export const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

/** Polls until `check` holds or `ms` pass; returns whether it held. */
export async function eventually(check: () => boolean, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (check()) return true;
    await sleep(100);
  }
  return check();
}
