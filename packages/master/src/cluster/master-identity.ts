import { existsSync } from 'node:fs';
import { fingerprint } from '@brine/protocol';
import type { ComparatorBuilder as Compare, Namespace } from 'etcd3';
import { masterKeyPaths } from '../identity.js';
import { loadMasterKeyState, type MasterKeyState } from '../master-rotation.js';
import { ClusterError, etcdCall } from './etcd.js';
import { MASTER_IDENTITY } from './layout.js';

/** The cluster's public master identity as published in etcd (never a secret key). */
interface Published {
  identity: string;
  fingerprint: string;
  /** The master that published it first, and when. */
  master: string;
  at: string;
}

const HOW_TO_PROVISION =
  "copy master.sign.key, master.box.key and master.pub (and, during or after a master key rotation, master.next.* and master.rotation) from a master of the cluster into this pki_dir over a secure channel (docs/HA.md, 'Masters and etcd', 'Master key rotation')";

/**
 * Loads this master's key pair and checks that it is the cluster's: the first master
 * publishes its public identity in etcd, every other must hold the same pair, since
 * minions pin one master_finger for the whole cluster. A master without keys in a
 * cluster that has them does not make new ones: they could only be refused.
 */
export async function clusterMasterIdentity(ns: Namespace, pkiDir: string, name: string): Promise<MasterKeyState> {
  let lastRaw = '';
  const read = async () => {
    const raw = await etcdCall("reading the cluster's master key", ns.get(MASTER_IDENTITY).string());
    lastRaw = raw ?? '';
    return raw === null ? undefined : (JSON.parse(raw) as Published);
  };
  let published = await read();
  if (published && !existsSync(masterKeyPaths(pkiDir).pub)) {
    throw new ClusterError(
      'master_key_missing',
      `this master has no key pair in ${pkiDir}, and the cluster's is ${published.fingerprint}: ${HOW_TO_PROVISION}`,
    );
  }
  const loaded = loadMasterKeyState(pkiDir);
  const mine = loaded.current;
  const claim: Published = {
    identity: Buffer.from(mine.identity).toString('base64'),
    fingerprint: mine.fingerprint,
    master: name,
    at: new Date().toISOString(),
  };
  /** Publishes this master's key if `current` (an etcd compare) still holds. */
  const publish = async (what: string, current: Compare) => {
    const res = await etcdCall(what, current.then(ns.put(MASTER_IDENTITY).value(JSON.stringify(claim))).commit(), { change: true });
    return res.succeeded ? claim : await read();
  };
  // Only if still absent: two first masters starting at once must not both win.
  if (!published) published = await publish("publishing the cluster's master key", ns.if(MASTER_IDENTITY, 'Create', '==', 0));
  // A master key rotation moves the cluster's key: the one it retires (or retired) may still be published.
  const predecessor = loaded.old?.identity.fingerprint ?? loaded.record?.old;
  const publishedFp = published && fingerprint(Buffer.from(published.identity, 'base64'));
  if (published && publishedFp !== mine.fingerprint && publishedFp === predecessor)
    published = await publish("publishing the cluster's rotated master key", ns.if(MASTER_IDENTITY, 'Value', '==', lastRaw));
  if (!published || fingerprint(Buffer.from(published.identity, 'base64')) !== mine.fingerprint) {
    throw new ClusterError(
      'cluster_key_mismatch',
      `this master's key (${mine.fingerprint}, in ${pkiDir}) is not the cluster's (${published?.fingerprint ?? 'unreadable'}, published in etcd by master ${published?.master ?? '?'}); minions pin one key for every master: ${HOW_TO_PROVISION}`,
    );
  }
  return loaded;
}
