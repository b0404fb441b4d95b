/** A minion's last authenticated message: when, and the TCP address the master's transport saw it from. */
export interface Sighting {
  at: number;
  address: string | undefined;
}

/**
 * When each minion was last heard from, for `master status`. Sessions forget this
 * when they close (idle, superseded, worn out); this keeps the last sighting of
 * every minion that authenticated since the master started. Only authenticated
 * messages count, so only accepted minions appear; in memory only, like sessions.
 */
export class Presence {
  private readonly seen = new Map<string, Sighting>();

  saw(minionId: string, address: string | undefined, at = Date.now()): void {
    this.seen.set(minionId, { at, address });
  }

  last(minionId: string): Sighting | undefined {
    return this.seen.get(minionId);
  }
}
