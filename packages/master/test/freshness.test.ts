import { createLogger } from '@brine/common';
import { afterEach, describe, expect, it } from 'vitest';
import { Freshness } from '../src/cluster/freshness.js';

const log = createLogger({ name: 'test', level: 'silent' });
const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

describe('Freshness: when a cluster master may trust its view of the keys', () => {
  const running: Freshness[] = [];
  afterEach(() => running.splice(0).forEach((f) => f.stop()));

  /** A Freshness whose probe answers what `marker.answer` says at the time (a revision, or an error). */
  function start(staleMaxMs: number) {
    const events: string[] = [];
    const marker: { answer: number | Error } = { answer: 0 };
    const probe = async () => {
      if (marker.answer instanceof Error) throw marker.answer;
      return marker.answer;
    };
    const f = new Freshness({ staleMaxMs, probe, audit: { write: (r) => void events.push(r.event) }, log });
    running.push(f);
    void f.run(10);
    return { f, marker, events };
  }

  it('stays current while etcd answers with what the watch has delivered', async () => {
    const { f, events } = start(100);
    await sleep(300);
    expect(f.staleness()).toBeUndefined();
    expect(events).toEqual([]);
  });

  it('turns stale stale_max after the last proof, audited once, and current again when etcd answers', async () => {
    const { f, marker, events } = start(300);
    marker.answer = new Error('no quorum');
    await sleep(100);
    expect(f.staleness()).toBeUndefined();
    await sleep(400);
    expect(f.staleness()).toMatch(/has not known the cluster's keys current for \d+ s .*stale_max is 0.3 s/);
    await sleep(100);
    expect(events).toEqual(['cluster_stale']);
    marker.answer = 0;
    await sleep(100);
    expect(f.staleness()).toBeUndefined();
    expect(events).toEqual(['cluster_stale', 'cluster_current']);
  });

  it('does not count an answer the watch has not caught up with, until it has', async () => {
    const { f, marker } = start(100);
    f.viewAt(3);
    marker.answer = 5;
    await sleep(300);
    expect(f.staleness()).toBeDefined();
    f.viewAt(5);
    expect(f.staleness()).toBeUndefined();
  });
});
