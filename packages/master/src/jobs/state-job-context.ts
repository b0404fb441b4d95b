import type { JobContext } from '@brine/protocol';
import type { AuditLog } from '../audit.js';
import type { PillarService } from '../pillar-service.js';
import type { Session } from '../sessions.js';
import type { StateTree } from '../state-tree.js';
import type { MasterTransport } from '../transport.js';

/**
 * What a `state.apply` job carries to each minion, so that it can start at once
 * instead of asking for the state tree's hash and its pillar first (two round
 * trips per minion per job, each queued behind every other minion's). The pillar
 * goes in that minion's own sealed job message, as a `pillar.items` answer would,
 * and is audited the same way. A pillar that fails to render is left out: the
 * minion then asks for it and gets the error, as before.
 */
export class StateJobContext {
  constructor(
    private readonly pillar: PillarService,
    private readonly tree: StateTree,
    private readonly audit: AuditLog,
    private readonly transport: Pick<MasterTransport, 'peerOf'>,
  ) {}

  /** For one publish: undefined for functions that need nothing, else a context maker per minion session. */
  forPublish(fun: string): ((session: Session) => JobContext) | undefined {
    if (fun !== 'state.apply') return undefined;
    let stateTree: string | undefined;
    try {
      stateTree = this.tree.snapshot().hash;
    } catch {
      // A tree the master will not serve (too large): minions ask and get the reason.
    }
    return (session) => {
      const context: JobContext = stateTree === undefined ? {} : { state_tree: stateTree };
      const compiled = this.pillar.compile({ id: session.minionId, grains: session.grains });
      if (compiled.errors.length > 0) return context;
      const peer = this.transport.peerOf(session.routingId);
      this.audit.write({
        event: 'pillar_delivered',
        minion: session.minionId,
        fingerprint: session.fingerprint,
        peer,
        op: 'state.apply',
        path: '*',
        rendered_for: compiled.renderedFor,
      });
      context.pillar = compiled.pillar as JobContext['pillar'];
      return context;
    };
  }
}
