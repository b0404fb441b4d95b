import { compilePillar, jinjaYamlRenderer, type MinionFacts, type Nodegroup, type PillarResult, type SlsRenderer } from '@brine/states';

export interface PillarPolicy {
  /** The master's `pillar_trust_minion_grains`. */
  trustMinionGrains: boolean;
  /** The master's `nodegroups`, for `match: nodegroup` and `N@` in the top file. */
  nodegroups: Readonly<Record<string, Nodegroup>>;
}

/**
 * Compiles a minion's pillar from `pillar_roots` on each request, so an edit
 * applies to the next request without a restart. Pillar files are jinja|yaml as
 * in Salt; parsed files are cached and re-checked by stat, so an unchanged tree
 * costs a few stats, not a re-parse. Errors never quote the rendered line: it
 * could hold a secret, and the error goes to the minion and the audit log.
 */
export class PillarService {
  private readonly render: SlsRenderer;

  constructor(
    private readonly roots: readonly string[],
    private readonly policy: PillarPolicy,
  ) {
    this.render = jinjaYamlRenderer({ roots, pillar: true });
  }

  /** `minion.id` must be the authenticated id; its grains are taken as what the minion claims. */
  compile(minion: Pick<MinionFacts, 'id' | 'grains'>): PillarResult {
    const facts = { ...minion, nodegroups: this.policy.nodegroups };
    return compilePillar({ roots: this.roots, minion: facts, render: this.render, trustMinionGrains: this.policy.trustMinionGrains });
  }
}
