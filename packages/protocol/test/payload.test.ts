import { describe, expect, it } from 'vitest';
import { decodePayload, encodePayload, type Job } from '../src/index.js';

const decodeHeader = (header: unknown) => decodePayload(encodePayload(header as Job)).header;

describe('job payloads', () => {
  const job: Job = { t: 'job', jid: '20261124120000000001', fun: 'state.apply', args: { mods: ['web'] } };

  it('carries an optional context of pillar and state tree hash', () => {
    expect(decodeHeader(job)).toEqual(job);
    const withContext = { ...job, context: { pillar: { site: 'x' }, state_tree: 'ab12' } };
    expect(decodeHeader(withContext)).toEqual(withContext);
    expect(decodeHeader({ ...job, context: { state_tree: 'ab12' } })).toEqual({ ...job, context: { state_tree: 'ab12' } });
  });

  it.each([
    ['a context that is not a mapping', 'x'],
    ['a pillar that is not a mapping', { pillar: ['a'] }],
    ['a state tree hash that is not a string', { state_tree: 7 }],
  ])('refuses %s', (_, context) => {
    expect(() => decodeHeader({ ...job, context })).toThrow(/malformed job context/);
  });
});
