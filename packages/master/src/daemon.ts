import { BrineError, createLogger, sleep, type Logger } from '@brine/common';
import { ReplayGuard } from '@brine/protocol';
import { scanGrainDependence, scanPlaintextSecrets } from '@brine/states';
import { AuditLog } from './audit.js';
import { credentialUse } from './credentials.js';
import { controlSocketPath, DEFAULT_MASTER_CONFIG, type MasterConfig } from './config.js';
import { ControlServer } from './control/server.js';
import { Dispatcher } from './jobs/dispatcher.js';
import { StateJobContext } from './jobs/state-job-context.js';
import { JobCache } from './jobs/job-cache.js';
import type { JobStore } from './jobs/job-store.js';
import { FileGrainStore } from './grain-store.js';
import { MinionRegistry } from './minion-registry.js';
import { StatusReporter } from './minion-status.js';
import { Outbox } from './outbox.js';
import { StateTree } from './state-tree.js';
import { HandshakeWorkers } from './handshake-workers.js';
import { MasterKeys } from './master-keys.js';
import { loadMasterKeyState } from './master-rotation.js';
import { watchRotation } from './rotation-watch.js';
import { FileKeyStore } from './file-keystore.js';
import { MinionKeyRotation } from './minion-key-rotation.js';
import { MinionNetworks } from './minion-networks.js';
import { resolveOperatorGroup } from './operator-group.js';
import { Operations } from './operations.js';
import { loadPillarCrypto } from './pillar-crypto.js';
import { PillarService } from './pillar-service.js';
import { Presence } from './presence.js';
import { NewKeyLimits } from './new-key-limits.js';
import { MasterServer } from './server.js';
import { SessionTable } from './sessions.js';
import { StaticKeys } from './static-keys.js';
import { MasterTransport } from './transport.js';

/** How far above the audited size limit libzmq itself cuts a peer off. */
const HARD_LIMIT_FACTOR = 4;

/**
 * Tells the operator, once at start, which pillar files let grains the minion
 * reports decide what it gets: their `!secret` values are withheld at run time.
 */
function warnGrainDependentPillar(config: MasterConfig, log: Logger): void {
  if (config.pillar_trust_minion_grains) return;
  const found = scanGrainDependence(config.pillar_roots, config.nodegroups);
  if (found.length === 0) return;
  log.warn(
    { files: found.map((f) => `${f.file}:${f.line}: ${f.reason}`) },
    'pillar depends on grains the minions report, which they control: values marked !secret that these select are withheld; select them by minion id or nodegroup, or set pillar_trust_minion_grains: true',
  );
}

/** Places listed in the warning about plaintext secrets; `master secret audit` lists them all. */
const PLAINTEXT_LISTED = 10;

/**
 * Tells the operator, once at start and in one line, how many pillar values under keys named
 * like secrets are plaintext at rest (names and places, never values).
 */
function warnPlaintextSecrets(config: MasterConfig, log: Logger): void {
  const found = scanPlaintextSecrets(config.pillar_roots);
  if (found.length === 0) return;
  log.warn(
    { count: found.length, first: found.slice(0, PLAINTEXT_LISTED).map((f) => `${f.file}:${f.line}: ${f.key}`) },
    `${found.length} pillar values under keys named like secrets are plaintext in pillar_roots: encrypt them (master secret encrypt); master secret audit lists them`,
  );
}

/** The minions whose daemon session this master holds on a live connection (for the cluster's presence). */
function liveDaemons(
  sessions: SessionTable,
  registry: MinionRegistry,
  transport: MasterTransport,
): Map<string, { address: string | undefined; lastSeen: number }> {
  const live = new Map<string, { address: string | undefined; lastSeen: number }>();
  for (const id of sessions.minionIds()) {
    const session = registry.daemonSession(id);
    const address = session && transport.peerOf(session.routingId);
    if (session && address !== undefined) live.set(id, { address, lastSeen: session.lastSeen });
  }
  return live;
}

/** Runs the master in the foreground until SIGTERM or SIGINT. */
export async function runMaster(
  config: MasterConfig,
  log: Logger = createLogger({ name: 'master', level: config.log_level }),
): Promise<void> {
  // Before anything is written: a missing group is a config error, not a half-made key store.
  const group = resolveOperatorGroup(config.sock_group, config.configFile ?? DEFAULT_MASTER_CONFIG);
  const audit = new AuditLog(config.audit_log);
  // A cluster master's keys are in etcd, and its key pair is the cluster's (cluster/index.ts).
  const cluster =
    config.cluster &&
    (await (
      await import('./cluster/index.js')
    ).joinCluster(config.cluster, { pkiDir: config.pki_dir, cachedir: config.cachedir }, audit, log));
  const keyState = cluster ? cluster.keyState : loadMasterKeyState(config.pki_dir);
  const identity = keyState.current;
  if (keyState.created) log.info({ pki_dir: config.pki_dir }, 'generated new master keys');
  log.info({ fingerprint: identity.fingerprint }, 'master identity (minions pin this as master_finger)');
  logCredentialUse(config.pki_dir, log);
  if (keyState.old)
    log.warn(
      { old: keyState.old.identity.fingerprint, new: identity.fingerprint, not_after: new Date(keyState.old.notAfter).toISOString() },
      'master key rotation under way: serving both keys until the period ends',
    );

  const keys = cluster ? cluster.keys : new FileKeyStore(config.pki_dir, { create: true, group });
  const timings = { rotateMs: config.prekey_rotate * 1000, cookieLifetimeMs: config.handshake_timeout * 1000 };
  // The identities served: two during a master key rotation (master-keys.ts); prekeys swept on their timers.
  const workers =
    config.handshake_workers > 0
      ? new HandshakeWorkers(config.handshake_workers, (err) => log.error({ err: err.message }, 'a handshake worker failed; replaced'))
      : undefined;
  const responder = new MasterKeys(
    keyState,
    timings,
    new ReplayGuard(),
    {
      offered: (minion) => audit.write({ event: 'master_rotation_offered', minion, fingerprint: responder.identity.fingerprint }),
      retiredPin: () => audit.refuse({ event: 'refused_retired_master_key', reason: 'HELLO pinned a retired master key' }),
    },
    workers,
  );
  const stopPrekeySweep = () => responder.stop();
  const statics = new StaticKeys(identity.box);
  const sessions = new SessionTable({ maxAgeMs: config.session_max_age * 1000, maxMessages: config.session_max_messages });
  // An IPv6 interface (`::` takes IPv4 peers too, as ::ffff:a.b.c.d) in libzmq's brackets.
  const ipv6 = config.interface.includes(':');
  const endpoint = `tcp://${ipv6 ? `[${config.interface}]` : config.interface}:${config.port}`;
  const transport = new MasterTransport(
    {
      endpoint,
      ipv6,
      backlog: config.listen_backlog,
      ioThreads: config.io_threads,
      hardMessageLimit: config.max_message_size * HARD_LIMIT_FACTOR,
      peerTimeoutMs: config.peer_timeout * 1000,
      maxConnectionsPerAddress: config.max_connections_per_address,
      onRefusedConnection: (peer, why) => audit.refuse({ event: 'refused_connection', peer, reason: why }),
    },
    log,
  );
  const outbox = new Outbox(transport);
  // libsodium, which opens !encrypted pillar values, compiled once before the first is served.
  await loadPillarCrypto();
  const pillar = new PillarService(
    config.pillar_roots,
    { trustMinionGrains: config.pillar_trust_minion_grains, nodegroups: config.nodegroups },
    config.pki_dir,
  );
  const registry = new MinionRegistry(
    cluster ? cluster.grains : new FileGrainStore(config.cachedir, log),
    keys,
    sessions,
    pillar,
    config.nodegroups,
  );
  warnGrainDependentPillar(config, log);
  warnPlaintextSecrets(config, log);
  const localJobs = new JobCache(config.cachedir, config.keep_jobs, log);
  // A cluster master's file job cache is its replica of the cluster's, in etcd.
  const shared =
    cluster &&
    (await cluster.share({
      local: localJobs,
      live: () => liveDaemons(sessions, registry, transport),
      compile: (id) => pillar.compile({ id, grains: registry.grains(id) ?? {} }),
      accepted: () => registry.accepted(),
    }));
  const jobs: JobStore = shared ? shared.jobs : localJobs;
  const stateTree = new StateTree(config.file_roots);
  const heldElsewhere = shared && ((id: string) => shared.presence.heldElsewhere(id));
  const dispatcher = new Dispatcher(
    registry,
    jobs,
    outbox,
    audit,
    log,
    new StateJobContext(pillar, stateTree, audit, transport),
    heldElsewhere,
  );
  if (shared) {
    shared.jobs.onRemoteJob((job) => {
      const sent = dispatcher.deliver(job);
      if (sent > 0)
        log.info({ jid: job.jid, fun: job.fun, published_by: job.master, minions: sent }, 'delivered a job published on another master');
    });
    registry.onDaemonHello((session, peer) => shared.presence.opened(session.minionId, peer));
  }
  const presence = new Presence();
  const clusterStatus = shared && {
    master: cluster.name,
    holder: (id: string) => shared.presence.holder(id),
    lastSeen: (id: string) => shared.presence.lastSeen(id),
    divergence: (id: string) => shared.pillar.divergence(id),
  };
  const status = new StatusReporter(
    registry,
    presence,
    (routingId) => transport.peerOf(routingId),
    jobs,
    clusterStatus,
    () => ({
      handshake_workers: config.handshake_workers,
      worker_handshakes: workers?.served ?? 0,
      connections: transport.peers.size.live,
      sessions: sessions.size,
    }),
  );
  const control = new ControlServer(controlSocketPath(config), dispatcher, registry, jobs, status, keys, audit, log, group);
  const server = new MasterServer({
    transport,
    responder,
    keys,
    networks: new MinionNetworks(config.minion_networks, (id) => keys.networks(id)),
    newKeys: new NewKeyLimits(keys, { maxPending: config.max_pending_keys, maxPerAddress: config.max_pending_keys_per_address }),
    statics,
    sessions,
    presence,
    operations: new Operations(
      pillar,
      audit,
      {
        get fingerprint() {
          return responder.identity.fingerprint;
        },
      },
      registry,
      dispatcher,
      stateTree,
      new MinionKeyRotation(keys, () => responder.boxes(), audit, log),
    ),
    outbox,
    audit,
    log,
    autoAccept: config.auto_accept,
    maxMessageBytes: config.max_message_size,
  });
  keys.onRevoked((id) => server.revoked(id));

  const stopRotationWatch = watchRotation(config.pki_dir, responder, {
    audit,
    log,
    sessions,
    began: () => statics.useMasterKey(responder.identity.box),
  });
  await control.start();
  await transport.start();
  audit.write({ event: 'master_start', reason: endpoint });
  log.info(
    {
      endpoint,
      control: controlSocketPath(config),
      pillar_roots: config.pillar_roots,
      auto_accept: config.auto_accept,
      handshake_workers: config.handshake_workers,
    },
    'master listening',
  );
  const accepted = keys.list().accepted.flatMap((id) => keys.read('accepted', id) ?? []);
  void statics.warm(accepted);

  const sweeper = setInterval(() => {
    const closed = sessions.expire(Date.now() - config.session_timeout * 1000);
    if (closed > 0)
      log.debug({ closed, open: sessions.size }, 'closed idle sessions and sessions past session_max_age or session_max_messages');
  }, 30_000).unref();
  const pruneJobs = () => {
    const removed = jobs.prune();
    if (removed > 0) log.info({ removed, keep_jobs: config.keep_jobs }, 'pruned old jobs from the job cache');
  };
  pruneJobs();
  const pruner = setInterval(pruneJobs, 3600_000).unref();

  let stopped = false;
  const stop = new Promise<void>((done) => {
    const shutdown = (signal: string) => {
      stopped = true;
      log.info({ signal }, 'master stopping');
      clearInterval(sweeper);
      stopPrekeySweep();
      stopRotationWatch();
      clearInterval(pruner);
      control.close();
      transport.close();
      void workers?.close();
      done();
    };
    process.once('SIGTERM', () => shutdown('SIGTERM'));
    process.once('SIGINT', () => shutdown('SIGINT'));
  });

  // Frames are handled one at a time, in arrival order. The loop ends when the socket closes;
  // unless that was a shutdown, the master fails (exit status 1) so systemd restarts it.
  const receiving = (async () => {
    for await (const frames of transport.messages()) server.handle(frames);
  })();
  const broken = receiving.then(
    () => {
      if (!stopped) throw new BrineError('socket_closed', 'the master socket closed unexpectedly');
    },
    (err: unknown) => {
      if (!stopped) throw err;
    },
  );
  try {
    await Promise.race([stop, broken]);
  } finally {
    // Whatever happened, the audit trail, grains and job returns are flushed; a stuck disk must not hold the exit forever.
    await Promise.race([Promise.all([audit.close(), registry.flushed(), jobs.flushed()]), sleep(3000)]);
    await Promise.race([cluster?.leave(), sleep(3000)]);
  }
}

/** Says where the secret keys came from; a plain file that shadows a sealed credential is worth a warning. */
function logCredentialUse(pkiDir: string, log: Logger): void {
  const { loaded, shadowed } = credentialUse(pkiDir);
  if (loaded.length) log.info({ keys: loaded }, 'secret keys from systemd credentials (sealed on disk, unsealed by systemd at start)');
  if (shadowed.length)
    log.warn(
      { keys: shadowed, pki_dir: pkiDir },
      'plain key files in pki_dir are used instead of the systemd credentials of the same name (newer, e.g. after a rekey): run `master keys seal --remove-plain` to seal them',
    );
}
