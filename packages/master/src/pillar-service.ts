import {
  compilePillar,
  type EncryptedSecret,
  jinjaYamlRenderer,
  type MinionFacts,
  type Nodegroup,
  type PillarResult,
  type SlsRenderer,
} from '@brine/states';
import { BrineError } from '@brine/common';
import { decryptFor, PillarCiphertextError, PillarKeyring } from './pillar-crypto.js';

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
  private readonly keyring: PillarKeyring | undefined;

  /** `pkiDir`: where the pillar key is, for `!encrypted` values; without it none opens. */
  constructor(
    private readonly roots: readonly string[],
    private readonly policy: PillarPolicy,
    pkiDir?: string,
  ) {
    this.render = jinjaYamlRenderer({ roots, pillar: true });
    this.keyring = pkiDir === undefined ? undefined : new PillarKeyring(pkiDir);
  }

  /**
   * Opens an `!encrypted` value for delivery to `minion` at `path`, refusing one bound to another
   * path or minion (PillarCiphertextError). The caller zeroes the bytes once they are sent.
   */
  decrypt(secret: EncryptedSecret, at: { path: string; minion: string }): Uint8Array {
    return decryptFor(secret.ciphertext, at, (id) => {
      try {
        return this.keyring?.key(id);
      } catch (err) {
        // A key file the master cannot use: said to the minion and the audit log like any refusal (paths, no key).
        if (err instanceof BrineError) throw new PillarCiphertextError(`the master cannot use its pillar key: ${err.message}`);
        throw err;
      }
    });
  }

  /** `minion.id` must be the authenticated id; its grains are taken as what the minion claims. */
  compile(minion: Pick<MinionFacts, 'id' | 'grains'>): PillarResult {
    const facts = { ...minion, nodegroups: this.policy.nodegroups };
    return compilePillar({ roots: this.roots, minion: facts, render: this.render, trustMinionGrains: this.policy.trustMinionGrains });
  }
}
