import { describe, expect, it } from 'vitest';
import { gidFromGroupLine, lookupGroup, resolveOperatorGroup } from '../src/operator-group.js';

// Lines as group(5) and `getent group` print them.
const FIXTURE = ['root:x:0:', 'brine:x:998:alice,bob', 'brine-ops:x:1001:', 'broken:x:notanumber:', 'short:x', ''];

describe('sock_group lookup', () => {
  it('reads the gid of exactly the named group from group(5) lines', () => {
    const gid = (name: string) => FIXTURE.map((l) => gidFromGroupLine(l, name)).find((g) => g !== undefined);
    expect(gid('brine')).toBe(998);
    expect(gid('brine-ops')).toBe(1001);
    expect(gid('root')).toBe(0);
    expect(gid('bri')).toBeUndefined();
    expect(gid('broken')).toBeUndefined();
    expect(gid('short')).toBeUndefined();
  });

  it('finds a real group and not a missing one', () => {
    expect(lookupGroup('root')).toBe(0);
    expect(lookupGroup(`no-such-group-${process.pid}`)).toBeUndefined();
  });

  it("is off for '', and a missing group names how to create it or turn it off", () => {
    expect(resolveOperatorGroup('', '/etc/brine/master')).toBeUndefined();
    const name = `no-such-group-${process.pid}`;
    expect(() => resolveOperatorGroup(name, '/etc/brine/master')).toThrow(
      `sock_group '${name}' (/etc/brine/master): no such group; create it (groupadd --system ${name}) and add the operators to it, or set sock_group: ''`,
    );
  });
});
