import { statSync } from 'node:fs';
import type { Logger } from '@brine/common';
import type { AuditLog } from './audit.js';
import type { MasterKeys } from './master-keys.js';
import { finishRotation, loadMasterKeyState, readRotation, rotationPaths } from './master-rotation.js';
import type { SessionTable } from './sessions.js';

/** How often the running master looks at master.rotation (a stat) and at the period's end. */
const WATCH_MS = 1000;

/**
 * Follows a master key rotation while the master runs: a rotation `master keys rotate-master`
 * (or an operator's copy, on the other masters of a cluster) writes into pki_dir is served
 * within a second (the sessions open then are closed, so that every minion handshakes again
 * during the period and is given the statement); at the period's end the old identity is retired in memory, its files are
 * replaced on disk (finishRotation), and the sessions opened with it are closed (their
 * minions handshake again, with the new key they pinned). Returns a stop function.
 */
export function watchRotation(
  pkiDir: string,
  keys: MasterKeys,
  deps: { audit: AuditLog; log: Logger; sessions: SessionTable; began: () => void },
): () => void {
  const { record } = rotationPaths(pkiDir);
  let seen = '';
  const look = () => {
    try {
      const rotation = keys.rotation;
      if (rotation && Date.now() >= rotation.notAfter) {
        const progress = keys.progress();
        const retired = keys.retire();
        const closed = deps.sessions.closeWhere((s) => keys.servedOld(s.cipher));
        const rec = readRotation(pkiDir);
        if (rec && rec.phase !== 'done') finishRotation(pkiDir, rec);
        deps.audit.write({
          event: 'master_rotation_finished',
          fingerprint: keys.identity.fingerprint,
          reason: `retired ${retired?.fingerprint}; ${progress?.moved ?? 0} of ${progress?.offered ?? 0} minions given the statement came back with the new key`,
        });
        deps.log.warn(
          { old: retired?.fingerprint, new: keys.identity.fingerprint, closed_sessions: closed, ...progress },
          'master key rotation period ended: only the new key is served; the old secret keys are erased',
        );
      }
      let st: ReturnType<typeof statSync> | undefined;
      try {
        st = statSync(record);
      } catch {
        return;
      }
      const stamp = `${st.ino}:${st.mtimeMs}:${st.size}`;
      if (stamp === seen) return;
      seen = stamp;
      const rec = readRotation(pkiDir);
      if (rec?.phase !== 'serving' || keys.rotation || rec.old !== keys.identity.fingerprint) return;
      const state = loadMasterKeyState(pkiDir);
      if (!state.old) {
        // Files copied here after their period ended: finished on disk, but this process still serves the old key.
        if (state.current.fingerprint !== keys.identity.fingerprint)
          deps.log.error(
            { old: keys.identity.fingerprint, new: state.current.fingerprint },
            'master key rotation files arrived after their period ended: restart the master to serve the new key',
          );
        return;
      }
      keys.begin(state);
      deps.began();
      // Every open session was made with the old key: closed, each minion's next message is told
      // `unknown session`, and its new handshake (pinning the old key) brings it the statement.
      // Daemons ping every master_alive_interval, which spreads these handshakes over that time.
      const closed = deps.sessions.closeWhere(() => true);
      deps.audit.write({
        event: 'master_rotation_started',
        fingerprint: state.current.fingerprint,
        reason: `old ${rec.old}, period ends ${rec.not_after}`,
      });
      deps.log.warn(
        { old: rec.old, new: rec.new, not_after: rec.not_after, closed_sessions: closed },
        'master key rotation: serving the old and the new key until the period ends; minions that pinned the old one move to the new one',
      );
    } catch (err) {
      // Retried next tick: a half-copied pki_dir (cluster) completes, a full disk frees.
      seen = '';
      deps.log.error({ err: (err as Error).message }, 'master key rotation: could not follow the files in pki_dir');
    }
  };
  look();
  const timer = setInterval(look, WATCH_MS);
  timer.unref();
  return () => clearInterval(timer);
}
