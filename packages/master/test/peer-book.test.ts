import { describe, expect, it } from 'vitest';
import { PeerBook } from '../src/peer-book.js';

const rid = (name: string) => Buffer.from(name, 'latin1');

function book(limits: Partial<ConstructorParameters<typeof PeerBook>[0]> = {}) {
  let t = 1000;
  const b = new PeerBook({ offerTtlMs: 30_000, maxPerAddress: 100, maxOffers: 1000, ...limits }, () => t);
  return { b, advance: (ms: number) => (t += ms) };
}

describe('PeerBook: which address a connection has', () => {
  it('binds a routing id to the address offered under the same name, until it disconnects', () => {
    const { b } = book();
    expect(b.offer('aa', '10.0.0.1')).toBeUndefined();
    expect(b.notice(rid('aa'))).toBe('connected');
    expect(b.addressOf(rid('aa'))).toBe('10.0.0.1');
    expect(b.notice(rid('aa'))).toBe('disconnected');
    expect(b.addressOf(rid('aa'))).toBeUndefined();
    expect(b.size).toEqual({ offers: 0, live: 0, addresses: 0 });
  });

  it('refuses a second connection offering a name that is waiting or bound', () => {
    const { b } = book();
    b.offer('aa', '10.0.0.1');
    expect(b.offer('aa', '10.0.0.66')).toBe('name_in_use');
    b.notice(rid('aa'));
    expect(b.offer('aa', '10.0.0.66')).toBe('name_in_use');
    expect(b.addressOf(rid('aa'))).toBe('10.0.0.1');
  });

  it('leaves a connection unbound when its routing id differs from every name offered', () => {
    const { b, advance } = book();
    b.offer('bb', '10.0.0.9');
    b.notice(rid('cc'));
    expect(b.addressOf(rid('cc'))).toBeUndefined();
    // Unbound entries and stale offers expire: memory does not grow with strangers.
    advance(31_000);
    b.sweep();
    expect(b.size).toEqual({ offers: 0, live: 0, addresses: 0 });
  });

  it('caps connections per address and offers in all', () => {
    const { b } = book({ maxPerAddress: 2, maxOffers: 3 });
    expect(b.offer('a1', '10.0.0.1')).toBeUndefined();
    expect(b.offer('a2', '10.0.0.1')).toBeUndefined();
    expect(b.offer('a3', '10.0.0.1')).toBe('address_limit');
    expect(b.offer('b1', '10.0.0.2')).toBeUndefined();
    expect(b.offer('c1', '10.0.0.3')).toBe('offers_full');
    // A bound connection still counts against its address; its disconnect frees the slot.
    b.notice(rid('a1'));
    expect(b.offer('a4', '10.0.0.1')).toBe('address_limit');
    b.notice(rid('a1'));
    expect(b.offer('a4', '10.0.0.1')).toBeUndefined();
  });
});
