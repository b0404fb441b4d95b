import { createLogger, pinoLevel, type Logger } from '@brine/common';
import { type Json, MinionIdentity, type X25519Key } from '@brine/protocol';
import { MasterChannel, type ChannelOptions, type MasterLink } from './channel.js';
import { keyProtection, type MinionConfig } from './config.js';
import { FailoverChannel } from './failover.js';
import { collectGrains } from './grains.js';
import { loadMinionIdentity, loadOrCreateMinionIdentity, masterTrust } from './identity.js';
import { masterLabel, tryOrder } from './masters.js';

/** Everything a minion process needs to talk to its master, from its config. */
export interface MinionContext {
  config: MinionConfig;
  log: Logger;
  identity: MinionIdentity;
  channel: MasterLink;
  /** Reported to the master at every handshake; states render with them. */
  grains: Record<string, Json>;
}

/** The daemon creates keys on first start; one-shot commands use the daemon's and never create any. */
export function openMinionContext(
  config: MinionConfig,
  role: 'daemon' | 'cli',
  log = roleLogger(config, role),
  /** Another key than the minion's (a rotation's pending key, to see whether the master accepts it). */
  key?: X25519Key,
): MinionContext {
  const identity = key
    ? new MinionIdentity(config.id, key)
    : role === 'daemon'
      ? createdOrLoaded(config, log)
      : loadMinionIdentity(config.id, config.pki_dir, keyProtection(config));
  const grains = collectGrains(config.id, config.grains);
  const common: Omit<ChannelOptions, 'host' | 'port'> = {
    identity,
    trust: masterTrust(config.pki_dir, config.master_finger, log),
    role,
    grains,
    timeoutMs: config.request_timeout * 1000,
    log,
    sourceAddress: config.source_address,
    // One-shot commands live seconds; the master's session limits cover them anyway.
    rekey: role === 'daemon' ? { afterMs: config.rekey_interval * 1000, afterMessages: config.rekey_messages } : undefined,
  };
  return { config, log, identity, channel: masterLink(config, common, log), grains };
}

/**
 * One master: today's channel, which waits for that master through its restarts.
 * Several: a failover over them, in the listed or a shuffled order. Salt's
 * `master_type: str` with a list means hot multi-master (a session with every
 * master at once); a minion here holds one session, so it fails over instead.
 */
function masterLink(config: MinionConfig, common: Omit<ChannelOptions, 'host' | 'port'>, log: Logger): MasterLink {
  if (config.master.length === 1) return new MasterChannel({ ...common, ...config.master[0]! });
  const masters = tryOrder(config.master, config.master_type === 'random' || config.random_master);
  if (config.master_type === 'str')
    log.info(
      { masters: masters.map(masterLabel) },
      "several masters with master_type 'str': one session at a time, failing over in the listed order",
    );
  return new FailoverChannel({ ...common, masters });
}

/** A one-shot command logs to stderr and only warnings unless the config asks for debugging. */
export function roleLogger(config: MinionConfig, role: 'daemon' | 'cli'): Logger {
  if (role === 'daemon') return createLogger({ name: 'minion', level: config.log_level });
  const level = ['trace', 'debug'].includes(pinoLevel(config.log_level)) ? config.log_level : 'warn';
  return createLogger({ name: 'minion', level, fd: 2 });
}

function createdOrLoaded(config: MinionConfig, log: Logger): MinionIdentity {
  const { identity, created, keptIn, sealedPlainKey, noTpm } = loadOrCreateMinionIdentity(config.id, config.pki_dir, keyProtection(config));
  if (created) log.info({ pki_dir: config.pki_dir }, 'generated new minion keys');
  if (sealedPlainKey)
    log.warn(
      { pki_dir: config.pki_dir },
      "sealed the plain minion key to this machine's TPM2 and removed minion.key; a copy of the disk (or a backup) made before now still holds it: rotate the key (`minion rotate-key`)",
    );
  log.info(
    { key_protection: keptIn, pki_dir: config.pki_dir, ...(noTpm ? { no_tpm: noTpm } : {}) },
    keptIn === 'tpm2' ? "minion key sealed to this machine's TPM2" : 'minion key in a plain file (no TPM2 in use)',
  );
  return identity;
}
