import { isPlainObject } from '../merge.js';
import { EncryptedSecret, HiddenValue, PillarSecret } from '../render/secret-tag.js';

/**
 * A `!secret` value withheld because the file it came from is in this minion's
 * pillar only by grains the minion reported (see compile.ts). It holds no value;
 * it merges like any value, so a later file can still replace it, and a path it
 * ends up at is refused by name instead of falling back to an earlier value.
 */
export class WithheldSecret extends HiddenValue {
  constructor(
    readonly file: string,
    readonly reason: string,
  ) {
    super();
  }
}

/** A secret left out of a minion's pillar: where it would have been, and why. */
export interface UntrustedSecret {
  /** Colon path in the merged pillar. */
  path: string;
  /** The pillar file that set it. */
  file: string;
  reason: string;
}

/**
 * One file's data with each `!secret` or `!encrypted` value replaced by what `replace` makes of
 * it. Mappings and lists with no secret under them are the same objects, not copies.
 */
export function mapSecrets(
  data: Record<string, unknown>,
  replace: (secret: PillarSecret | EncryptedSecret) => unknown,
): Record<string, unknown> {
  const walk = (node: unknown): unknown => {
    if (node instanceof PillarSecret || node instanceof EncryptedSecret) return replace(node);
    if (Array.isArray(node)) {
      const items = node.map(walk);
      return items.every((v, i) => v === node[i]) ? node : items;
    }
    if (isPlainObject(node)) {
      const entries = Object.entries(node).map(([k, v]): [string, unknown] => [k, walk(v)]);
      return entries.every(([k, v]) => v === node[k]) ? node : Object.fromEntries(entries);
    }
    return node;
  };
  return walk(data) as Record<string, unknown>;
}

/** One file's data with each `!secret` or `!encrypted` value replaced by a WithheldSecret. */
export function withholdSecrets(data: Record<string, unknown>, file: string, reason: string): Record<string, unknown> {
  return mapSecrets(data, () => new WithheldSecret(file, reason));
}

/** One file's data with each `!encrypted` value knowing the file (a copy: the parse is cached and shared). */
export function noteEncryptedFile(data: Record<string, unknown>, file: string): Record<string, unknown> {
  return mapSecrets(data, (s) => (s instanceof EncryptedSecret ? new EncryptedSecret(s.ciphertext).from(file) : s));
}

export interface SplitPillar {
  /** Without the secrets: for templates, and what a minion receives to render its states. */
  visible: Record<string, unknown>;
  /** With each secret's value in its place (an `!encrypted` one still sealed): for fetching a secret by name, and for redaction. */
  raw: Record<string, unknown>;
  /** Colon paths of the secrets (a list item's index is a path part). */
  secrets: string[];
  /** Secrets withheld (in neither `visible` nor `raw`). */
  untrusted: UntrustedSecret[];
}

/** Separates the secrets from a merged pillar. */
export function splitSecrets(pillar: Record<string, unknown>): SplitPillar {
  const secrets: string[] = [];
  const untrusted: UntrustedSecret[] = [];
  type Part = { visible: unknown; raw: unknown; hidden: boolean; withheld?: true };
  const walk = (node: unknown, path: string[]): Part => {
    if (node instanceof PillarSecret) {
      secrets.push(path.join(':'));
      return { visible: undefined, raw: node.value, hidden: true };
    }
    // Still sealed in `raw`: only the master opens it, at delivery.
    if (node instanceof EncryptedSecret) {
      secrets.push(path.join(':'));
      return { visible: undefined, raw: node, hidden: true };
    }
    if (node instanceof WithheldSecret) {
      untrusted.push({ path: path.join(':'), file: node.file, reason: node.reason });
      return { visible: undefined, raw: undefined, hidden: true, withheld: true };
    }
    if (Array.isArray(node)) {
      const parts = node.map((item, i) => walk(item, [...path, String(i)]));
      // A withheld item stays a null in `raw`, so later items keep the index their secret paths name.
      return {
        visible: parts.filter((p) => !p.hidden).map((p) => p.visible),
        raw: parts.map((p) => (p.withheld ? null : p.raw)),
        hidden: false,
      };
    }
    if (isPlainObject(node)) {
      const visible: Record<string, unknown> = {};
      const raw: Record<string, unknown> = {};
      for (const [key, value] of Object.entries(node)) {
        const part = walk(value, [...path, key]);
        if (!part.hidden) visible[key] = part.visible;
        if (!part.withheld) raw[key] = part.raw;
      }
      return { visible, raw, hidden: false };
    }
    return { visible: node, raw: node, hidden: false };
  };
  const { visible, raw } = walk(pillar, []);
  return { visible: visible as Record<string, unknown>, raw: raw as Record<string, unknown>, secrets, untrusted };
}
