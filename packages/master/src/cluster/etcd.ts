import { readFileSync } from 'node:fs';
import { BrineError, sleep, type Logger } from '@brine/common';
import { ExponentialBackoff } from 'cockatiel';
import { Etcd3, type Namespace } from 'etcd3';
import type { ClusterConfig } from '../config.js';
import { tlsRefusal, type TlsCredentials } from './etcd-tls.js';

/** A failure of the cluster's shared state: etcd unreachable, a conflicting change, a master that does not belong. */
export class ClusterError extends BrineError {}

/**
 * Longest one etcd call may take. Without a quorum etcd does not fail a linearizable
 * call, it waits: this bounds how long a key change hangs before it fails loudly.
 */
const CALL_TIMEOUT_MS = 2000;

/** Watch streams reconnect at most this long after etcd is back (the library's default waits up to 30 s). */
const WATCH_RETRY_MAX_MS = 1000;

/** etcd's keys of this cluster: everything below `prefix`/, addressed relative to it. */
export interface EtcdConnection {
  ns: Namespace;
  close(): void;
  /**
   * The error to report for `err`, a failure to reach etcd: with TLS, a member that
   * refuses this master's certificate (or one this master does not trust) becomes a
   * `etcd_tls_refused` naming the endpoints and what to fix; otherwise `err` itself.
   */
  explain(err: unknown): Promise<unknown>;
}

function readTls(file: string, what: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    throw new ClusterError('cluster_tls_unreadable', `cannot read the etcd ${what} ${file} (cluster.tls): ${(err as Error).message}`);
  }
}

export function connectEtcd(config: ClusterConfig): EtcdConnection {
  const { tls } = config;
  const creds: TlsCredentials | undefined = tls && {
    ca: readTls(tls.ca!, 'CA certificate'),
    ...(tls.cert && { cert: readTls(tls.cert, 'client certificate'), key: readTls(tls.key!, 'client key') }),
  };
  const client = new Etcd3({
    hosts: config.etcd,
    ...(creds && { credentials: { rootCertificate: creds.ca, certChain: creds.cert, privateKey: creds.key } }),
    defaultCallOptions: (call) => (call.isStream ? {} : { deadline: Date.now() + CALL_TIMEOUT_MS }),
    faultHandling: { watchBackoff: new ExponentialBackoff({ initialDelay: 100, maxDelay: WATCH_RETRY_MAX_MS }).next() },
  });
  const explain = async (err: unknown): Promise<unknown> => {
    if (!creds || !(err instanceof ClusterError) || err.code !== 'etcd_unavailable') return err;
    const refusal = await tlsRefusal(config, creds);
    return refusal ? new ClusterError('etcd_tls_refused', `cannot use etcd: ${refusal}`, { cause: err }) : err;
  };
  return { ns: client.namespace(`${config.prefix}/`), close: () => client.close(), explain };
}

/**
 * Runs one etcd call; its failure becomes a ClusterError that says what could not be
 * done and why. A change (`change`) that times out is not known to have failed: etcd's
 * leader may have it in its log and commit it once a quorum is back, so the message
 * says so rather than claim nothing happened.
 */
export async function etcdCall<T>(what: string, call: Promise<T>, opts: { change?: boolean } = {}): Promise<T> {
  try {
    return await call;
  } catch (err) {
    const outcome = opts.change ? '; it may still take effect if the etcd leader received it: check once etcd answers' : '';
    throw new ClusterError(
      'etcd_unavailable',
      `${what}: etcd did not answer (${(err as Error).message})${outcome}; check that a quorum of its members is up and reachable`,
    );
  }
}

/** Runs `attempt` until it succeeds or `stopped()` says to give up, logging each failure and waiting a second. */
export async function retryEtcd(what: string, attempt: () => Promise<void>, stopped: () => boolean, log: Logger): Promise<void> {
  while (!stopped()) {
    try {
      return await attempt();
    } catch (err) {
      log.warn({ err: (err as Error).message }, `cannot read ${what} from etcd; retrying`);
      await sleep(1000);
    }
  }
}

/** A create-only write found the key there (another master made the same jid in the same millisecond). */
export const keyExists = (key: string): ClusterError => new ClusterError('key_exists', `${key} already exists in etcd`);
