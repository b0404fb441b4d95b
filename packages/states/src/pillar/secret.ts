import { Type } from 'js-yaml';
import { isPlainObject } from '../merge.js';

const HIDDEN = '<secret>';

/**
 * A pillar value written `!secret` in a pillar file. It is kept out of the pillar
 * that templates see (and that the master sends a minion for rendering); a state
 * reaches it only by name (`key_pillar`), fetched raw when it runs. Printing or
 * serializing the wrapper never shows the value.
 */
export class PillarSecret {
  constructor(readonly value: string) {}

  toString(): string {
    return HIDDEN;
  }

  toJSON(): string {
    return HIDDEN;
  }
}

/** `!secret <scalar>`: always a string, as a passphrase is, whatever it looks like. */
export const secretYamlType = new Type('!secret', {
  kind: 'scalar',
  resolve: (data: unknown) => typeof data === 'string' && data.length > 0,
  construct: (data: string) => new PillarSecret(data),
  instanceOf: PillarSecret,
});

export interface SplitPillar {
  /** Without the secrets: for templates, and what a minion receives to render its states. */
  visible: Record<string, unknown>;
  /** With each secret's value in its place: for fetching a secret by name, and for redaction. */
  raw: Record<string, unknown>;
  /** Colon paths of the secrets (a list item's index is a path part). */
  secrets: string[];
}

/** Separates the secrets from a merged pillar. */
export function splitSecrets(pillar: Record<string, unknown>): SplitPillar {
  const secrets: string[] = [];
  const walk = (node: unknown, path: string[]): { visible: unknown; raw: unknown; hidden: boolean } => {
    if (node instanceof PillarSecret) {
      secrets.push(path.join(':'));
      return { visible: undefined, raw: node.value, hidden: true };
    }
    if (Array.isArray(node)) {
      const parts = node.map((item, i) => walk(item, [...path, String(i)]));
      return { visible: parts.filter((p) => !p.hidden).map((p) => p.visible), raw: parts.map((p) => p.raw), hidden: false };
    }
    if (isPlainObject(node)) {
      const visible: Record<string, unknown> = {};
      const raw: Record<string, unknown> = {};
      for (const [key, value] of Object.entries(node)) {
        const part = walk(value, [...path, key]);
        if (!part.hidden) visible[key] = part.visible;
        raw[key] = part.raw;
      }
      return { visible, raw, hidden: false };
    }
    return { visible: node, raw: node, hidden: false };
  };
  const { visible, raw } = walk(pillar, []);
  return { visible: visible as Record<string, unknown>, raw: raw as Record<string, unknown>, secrets };
}
