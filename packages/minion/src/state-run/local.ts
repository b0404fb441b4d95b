import type { Logger } from '@brine/common';
import { compilePillar, jinjaYamlRenderer, pillarSecretProvider } from '@brine/states';
import type { MinionConfig } from '../config.js';
import { collectGrains } from '../grains.js';
import { runStateTree, type StateRunOutcome } from './run-tree.js';

export interface LocalRunRequest {
  fileRoots: readonly string[];
  pillarRoots: readonly string[];
  /** 'highstate' or SLS names. */
  target: 'highstate' | string[];
  test: boolean;
  logger: Logger;
}

/**
 * `minion apply --local`, like `salt-call --local`: pillar and states from this machine's
 * roots, secrets from that pillar, no master and no daemon.
 */
export async function runLocal(config: MinionConfig, req: LocalRunRequest): Promise<StateRunOutcome> {
  // The same grains the daemon reports: Salt's core grains, then the config's static ones.
  const grains = { ...collectGrains(config.id, config.grains), id: config.id };
  const pillar = compilePillar({
    roots: req.pillarRoots,
    minion: { id: config.id, grains },
    render: jinjaYamlRenderer({ roots: req.pillarRoots, pillar: true }),
  });
  if (pillar.errors.length > 0) return { kind: 'problems', problems: pillar.errors.map((e) => `Pillar failed to render: ${e}`) };
  return runStateTree({
    minionId: config.id,
    fileRoots: req.fileRoots,
    pillar: pillar.pillar,
    grains,
    target: req.target,
    test: req.test,
    secrets: pillarSecretProvider(pillar.raw),
    logger: req.logger,
    scratchDir: config.sock_dir,
  });
}
