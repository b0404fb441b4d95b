import { hkdfSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { hkdf, randomBytes } from '../src/crypto.js';

describe('hkdf', () => {
  it('matches node:crypto hkdfSync (SHA-512) for every length and salt the protocol uses, and beyond one block', () => {
    for (const length of [1, 32, 63, 64, 65, 128, 200]) {
      for (const salt of [new Uint8Array(0), randomBytes(64), randomBytes(200)]) {
        const ikm = randomBytes(96);
        const expected = new Uint8Array(hkdfSync('sha512', ikm, salt, new TextEncoder().encode('brine test label'), length));
        expect(hkdf(ikm, salt, 'brine test label', length)).toEqual(expected);
      }
    }
  });

  it('refuses lengths HKDF-SHA-512 cannot produce', () => {
    expect(() => hkdf(randomBytes(32), randomBytes(32), 'x', 0)).toThrow(RangeError);
    expect(() => hkdf(randomBytes(32), randomBytes(32), 'x', 255 * 64 + 1)).toThrow(RangeError);
  });
});

describe('randomBytes', () => {
  it('never hands out the same bytes twice, across pool refills and large requests', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 2000; i++) {
      for (const n of [16, 24, 32, 300]) {
        const r = randomBytes(n);
        expect(r.length).toBe(n);
        const hex = Buffer.from(r).toString('hex');
        expect(seen.has(hex)).toBe(false);
        seen.add(hex);
      }
    }
  });
});
