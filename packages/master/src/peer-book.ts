/**
 * Which TCP address each live connection of the master's ROUTER socket comes
 * from, in a way the peer cannot choose or swap.
 *
 * libzmq tells a ROUTER neither where a message came from nor when a connection
 * opens; it tells the ZAP handler the address and PLAIN user name of each new
 * connection (before the connection carries anything), and with ROUTER_NOTIFY it
 * tells the ROUTER each routing id that connects and disconnects. Minions use
 * their routing id as their user name, so:
 * - ZAP offers `user name -> address`, kept only for the handshake window; a
 *   name already offered (or bound) is refused, so a second connection cannot
 *   re-point a name at another address;
 * - the connect notice of routing id R binds R to the address offered under the
 *   name R and consumes the offer; a connection whose name and routing id differ
 *   stays unbound, and the server drops its frames;
 * - the disconnect notice forgets R, so nothing outlives its connection.
 * Every map is bounded: offers expire, bindings go with their connections.
 */

export interface PeerBookLimits {
  /** How long a ZAP offer waits for its connection (libzmq's handshake window). */
  offerTtlMs: number;
  /** Live connections (and pending offers) per address beyond this are refused at ZAP. */
  maxPerAddress: number;
  /** Offers waiting at once, over all addresses. */
  maxOffers: number;
}

/** Why ZAP refused a connection, for the audit log. */
export type OfferRefusal = 'name_in_use' | 'address_limit' | 'offers_full';

interface Offer {
  address: string;
  expires: number;
}

/** A connection's routing id as the map key: latin1 keeps any bytes one-to-one. */
export const connectionKey = (routingId: Buffer): string => routingId.toString('latin1');

export class PeerBook {
  private readonly offers = new Map<string, Offer>();
  /** Live connections: routing id -> address, or null for one that was never bound. */
  private readonly live = new Map<string, string | null>();
  /** Unbound live connections and when they are forgotten (see `notice`). */
  private readonly unboundUntil = new Map<string, number>();
  private readonly perAddress = new Map<string, number>();

  constructor(
    private readonly limits: PeerBookLimits,
    private readonly now: () => number = Date.now,
  ) {}

  /** ZAP: a new connection presents `name` from `address`. Undefined means accepted. */
  offer(name: string, address: string): OfferRefusal | undefined {
    const t = this.now();
    const existing = this.offers.get(name);
    if (existing && existing.expires > t) return 'name_in_use';
    if (existing) this.dropOffer(name, existing);
    if (this.live.has(name)) return 'name_in_use';
    if ((this.perAddress.get(address) ?? 0) >= this.limits.maxPerAddress) return 'address_limit';
    if (this.offers.size >= this.limits.maxOffers) {
      this.sweep();
      if (this.offers.size >= this.limits.maxOffers) return 'offers_full';
    }
    this.offers.set(name, { address, expires: t + this.limits.offerTtlMs });
    this.count(address, 1);
    return undefined;
  }

  /**
   * A ROUTER_NOTIFY message: the first for a routing id is its connect, the next
   * its disconnect. A peer can send an empty frame that looks the same, but only
   * for its own routing id: it can unbind itself, never another connection, and
   * the unbound entries it leaves behind expire like offers.
   */
  notice(routingId: Buffer): 'connected' | 'disconnected' {
    const key = connectionKey(routingId);
    if (this.live.has(key)) {
      const address = this.live.get(key);
      this.live.delete(key);
      this.unboundUntil.delete(key);
      if (address) this.count(address, -1);
      return 'disconnected';
    }
    const offer = this.offers.get(key);
    if (offer && offer.expires > this.now()) {
      this.offers.delete(key);
      this.live.set(key, offer.address);
    } else {
      if (offer) this.dropOffer(key, offer);
      this.live.set(key, null);
      this.unboundUntil.set(key, this.now() + this.limits.offerTtlMs);
    }
    return 'connected';
  }

  /** The TCP address behind a live, bound connection; undefined for any other routing id. */
  addressOf(routingId: Buffer): string | undefined {
    return this.live.get(connectionKey(routingId)) ?? undefined;
  }

  /** Forgets expired offers and unbound connections; run on a timer. */
  sweep(): void {
    const t = this.now();
    for (const [name, offer] of this.offers) if (offer.expires <= t) this.dropOffer(name, offer);
    for (const [key, until] of this.unboundUntil) {
      if (until <= t) {
        this.unboundUntil.delete(key);
        this.live.delete(key);
      }
    }
  }

  get size(): { offers: number; live: number; addresses: number } {
    return { offers: this.offers.size, live: this.live.size, addresses: this.perAddress.size };
  }

  private dropOffer(name: string, offer: Offer): void {
    this.offers.delete(name);
    this.count(offer.address, -1);
  }

  private count(address: string, delta: number): void {
    const n = (this.perAddress.get(address) ?? 0) + delta;
    if (n <= 0) this.perAddress.delete(address);
    else this.perAddress.set(address, n);
  }
}
