import { describe, expect, it } from 'vitest';
import { MinionNetworks } from '../src/minion-networks.js';

describe('MinionNetworks', () => {
  const config = { 'web*': ['10.0.0.0/24', 'fd00::/64'], db1: '127.0.0.2/32', '*': ['192.168.0.0/16'] };

  it('serves an id only from the networks of the first glob that matches it', () => {
    const nets = new MinionNetworks(config);
    expect(nets.refusal('web1', '10.0.0.7')).toBeUndefined();
    expect(nets.refusal('web1', 'fd00::7')).toBeUndefined();
    expect(nets.refusal('db1', '127.0.0.2')).toBeUndefined();
    // web1 matches '*' too, but 'web*' comes first.
    expect(nets.refusal('web1', '192.168.1.1')).toEqual({ peer: '192.168.1.1', networks: ['10.0.0.0/24', 'fd00::/64'], by: 'web*' });
    expect(nets.refusal('db1', '127.0.0.1')).toMatchObject({ peer: '127.0.0.1', by: 'db1' });
    expect(nets.refusal('mail', '10.0.0.7')).toMatchObject({ by: '*' });
    expect(nets.refusal('mail', '192.168.3.3')).toBeUndefined();
  });

  it('reads an IPv4-mapped IPv6 peer as IPv4, and refuses a connection of unknown address', () => {
    const nets = new MinionNetworks(config);
    expect(nets.refusal('db1', '::ffff:127.0.0.2')).toBeUndefined();
    expect(nets.refusal('db1', '::ffff:127.0.0.1')).toMatchObject({ peer: '127.0.0.1' });
    expect(nets.refusal('db1', undefined)).toMatchObject({ peer: 'unknown' });
  });

  it('leaves ids matching no glob unrestricted', () => {
    const nets = new MinionNetworks({ 'web*': ['10.0.0.0/24'] });
    expect(nets.refusal('db1', '203.0.113.9')).toBeUndefined();
    expect(nets.refusal('db1', undefined)).toBeUndefined();
    expect(new MinionNetworks({}).refusal('web1', '203.0.113.9')).toBeUndefined();
  });

  it("lets a key's own networks replace the config's for that id", () => {
    const own: Record<string, string[]> = { web1: ['203.0.113.0/24'] };
    const nets = new MinionNetworks(config, (id) => own[id]);
    expect(nets.refusal('web1', '203.0.113.9')).toBeUndefined();
    expect(nets.refusal('web1', '10.0.0.7')).toEqual({ peer: '10.0.0.7', networks: ['203.0.113.0/24'], by: 'key' });
    expect(nets.refusal('web2', '10.0.0.7')).toBeUndefined();
    // An id no glob restricts is restricted by its key's networks.
    own['other'] = ['fd00::/64'];
    expect(nets.refusal('other', '10.0.0.7')).toMatchObject({ by: 'key' });
  });
});
