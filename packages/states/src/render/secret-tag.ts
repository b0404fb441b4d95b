// The `!secret` tag pillar files may use; here, not in pillar/, so the YAML loader needs nothing
// from the pillar compiler that uses it.
import { Type } from 'js-yaml';

/** What a secret prints as, wherever it is shown. */
export const HIDDEN = '<secret>';

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
