import { parseYaml, type ParsedYaml } from '@brine/common';
import type { MinionFacts } from './target/match.js';
import { SourceCache } from './source-cache.js';

/** What a template sees while an SLS or pillar file renders. */
export interface RenderContext {
  minion: MinionFacts;
  pillar?: Record<string, unknown>;
  opts?: Record<string, unknown>;
}

/** Turns a file into parsed YAML for one minion (template stage, then YAML). */
export type SlsRenderer = (file: string, ctx: RenderContext) => ParsedYaml;

/** A renderer for plain YAML files; parses each file once until it changes on disk. */
export function yamlRenderer(cache = new SourceCache<ParsedYaml>()): SlsRenderer {
  return (file) => cache.read(file).derive('yaml', (text) => parseYaml(text, file));
}
