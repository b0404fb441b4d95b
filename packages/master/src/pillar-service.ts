import { compilePillar, jinjaYamlRenderer, type MinionFacts, type PillarResult, type SlsRenderer } from '@brine/states';

/**
 * Compiles a minion's pillar from `pillar_roots` on each request, so an edit
 * applies to the next request without a restart. Pillar files are jinja|yaml as
 * in Salt; parsed files are cached and re-checked by stat, so an unchanged tree
 * costs a few stats, not a re-parse. Errors never quote the rendered line: it
 * could hold a secret, and the error goes to the minion and the audit log.
 */
export class PillarService {
  private readonly render: SlsRenderer;

  constructor(private readonly roots: readonly string[]) {
    this.render = jinjaYamlRenderer({ roots, pillar: true });
  }

  compile(minion: MinionFacts): PillarResult {
    return compilePillar({ roots: this.roots, minion, render: this.render });
  }
}
