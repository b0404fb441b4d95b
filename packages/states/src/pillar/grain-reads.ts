import type { MinionFacts } from '../target/types.js';

/** Python dict methods nunjucks' member lookup probes with `name in obj` (render/template.ts). */
const PROBED_METHODS = new Set(['get', 'items', 'keys', 'values']);

export interface GrainReads {
  /** The minion's facts with grains that count reads; `grains.id` is the authenticated id. */
  minion: MinionFacts;
  /** Reads so far of anything the minion controls (any grain but `id`, or the list of grains). */
  count(): number;
}

/**
 * Wraps a minion's grains so that a pillar compile can tell whether a top-file
 * match or a template depended on data the minion reported. A read taints when
 * its answer could differ with what the minion reported: any key but `id`, a key
 * that is missing (the minion chose not to report it), the list of keys. Names
 * that answer the same whatever was reported do not: Object.prototype's members,
 * and the dict-method probes nunjucks makes (`'get' in grains`), unless the
 * minion reported a grain of that name.
 */
export function trackGrainReads(minion: MinionFacts): GrainReads {
  const grains: Record<string, unknown> = { ...minion.grains, id: minion.id };
  let reads = 0;
  const isData = (key: string | symbol, fixed: (name: string) => boolean): boolean =>
    typeof key === 'string' && key !== 'id' && (Object.hasOwn(grains, key) || !fixed(key));
  const inherited = (name: string) => name in Object.prototype;
  const tally = (tainted: boolean) => {
    if (tainted) reads++;
  };
  const view = new Proxy(grains, {
    get: (target, key, receiver) => (tally(isData(key, inherited)), Reflect.get(target, key, receiver)),
    has: (target, key) => (tally(isData(key, (name) => inherited(name) || PROBED_METHODS.has(name))), Reflect.has(target, key)),
    getOwnPropertyDescriptor: (target, key) => (tally(isData(key, () => false)), Reflect.getOwnPropertyDescriptor(target, key)),
    ownKeys: (target) => (tally(Object.keys(target).some((k) => k !== 'id')), Reflect.ownKeys(target)),
    set: () => false,
    defineProperty: () => false,
    deleteProperty: () => false,
  });
  return { minion: { ...minion, grains: view }, count: () => reads };
}
