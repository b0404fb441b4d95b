import { compilePillar, yamlRenderer, type MinionFacts, type PillarResult, type SlsRenderer } from '@brine/states';

/**
 * Compiles a minion's pillar from `pillar_roots` on each request, so an edit
 * applies to the next request without a restart. Parsed files are cached and
 * re-checked by stat, so an unchanged tree costs a few stats, not a re-parse.
 */
export class PillarService {
  constructor(
    private readonly roots: readonly string[],
    private readonly render: SlsRenderer = yamlRenderer(),
  ) {}

  compile(minion: MinionFacts): PillarResult {
    return compilePillar({ roots: this.roots, minion, render: this.render });
  }
}
