// Salt's cryptdev states, for operators porting SLS files: cryptdev.mapped opens an existing
// LUKS device now (as luks.opened does; Salt's cryptdev never formats), cryptdev.unmapped closes
// it. Salt's key file and crypttab arguments are refused with a message saying what to write
// instead: Brine's key never lives on the server's disk, and a crypttab entry would make the
// boot stop and wait for a passphrase that Brine supplies later.
import { splitOptions } from './args.js';
import { applyClosed, applyMapping, inspectClosed, inspectMapping, KEY_ARGS, keyProblems, OPEN_ARGS, type MappingSpec } from './luks.js';
import { stateFunction, type ArgProblem, type ArgSpecs, type ArgsOf, type StateModule } from './types.js';

const CRYPTTAB_ARGS = {
  persist: {
    type: 'boolean',
    default: false,
    doc: 'Salt: keep the mapping in /etc/crypttab; only false is supported (Brine opens the device itself)',
  },
  immediate: { type: 'boolean', default: true, doc: 'Salt: act now rather than only in crypttab; only true is supported' },
  config: { type: 'any', doc: 'Salt: crypttab location; not supported' },
  match_on: { type: 'any', doc: 'Salt: crypttab matching; not supported' },
} as const satisfies ArgSpecs;

function crypttabProblems(args: ArgsOf<typeof CRYPTTAB_ARGS>): ArgProblem[] {
  const problems: ArgProblem[] = [];
  if (args.persist) {
    problems.push({
      arg: 'persist',
      detail:
        "persist: true is not supported: a crypttab entry would make the boot wait for a passphrase; Brine's minion opens the device itself (drop persist)",
    });
  }
  if (!args.immediate)
    problems.push({ arg: 'immediate', detail: 'immediate: false (crypttab only) is not supported: Brine acts at once (drop immediate)' });
  for (const arg of ['config', 'match_on'] as const) {
    if (args[arg] !== undefined) problems.push({ arg, detail: `'${arg}' is about /etc/crypttab, which Brine does not write (drop it)` });
  }
  return problems;
}

/** Salt's opts that mean something for opening a LUKS device. */
const OPEN_OPTS: Record<string, 'readonly' | 'discard'> = { readonly: 'readonly', 'read-only': 'readonly', discard: 'discard' };

const MAPPED_ARGS = {
  device: { type: 'string', required: true, doc: 'the LUKS device: a path, or UUID=…' },
  ...KEY_ARGS,
  previous_key_pillar: OPEN_ARGS.previous_key_pillar,
  keyfile: { type: 'any', doc: 'Salt: a key file on disk; refused, use key_pillar' },
  opts: { type: 'string-list', default: [], doc: 'options, a list or comma-separated: readonly, discard' },
  ...CRYPTTAB_ARGS,
} as const satisfies ArgSpecs;

const mapped = stateFunction({
  args: MAPPED_ARGS,
  validate(args) {
    if (args.keyfile !== undefined) {
      return [
        {
          arg: 'keyfile',
          detail:
            'keyfile is not supported: Brine never reads a LUKS key from a file on the server; keep the passphrase in pillar and name it with key_pillar (e.g. key_pillar: luks:password)',
        },
      ];
    }
    const unknown = splitOptions(args.opts).filter((o) => !Object.hasOwn(OPEN_OPTS, o));
    const optProblems = unknown.map((o) => ({
      arg: 'opts',
      detail: `option '${o}' is not supported (Brine opens LUKS devices; it takes: readonly, discard)`,
    }));
    return [...keyProblems(args), ...optProblems, ...crypttabProblems(args)];
  },
  inspect: (args, ctx) => inspectMapping(mappingSpec(args), ctx),
  apply: (args, plan, ctx) => applyMapping(mappingSpec(args), plan, ctx),
});

function mappingSpec(args: ArgsOf<typeof MAPPED_ARGS>): MappingSpec {
  const opts = new Set(splitOptions(args.opts).map((o) => OPEN_OPTS[o]));
  return {
    name: args.name,
    device: args.device,
    key: args.key,
    key_pillar: args.key_pillar,
    previous_key_pillar: args.previous_key_pillar,
    readonly: opts.has('readonly'),
    discard: opts.has('discard'),
  };
}

const unmapped = stateFunction({
  args: CRYPTTAB_ARGS,
  validate: crypttabProblems,
  inspect: (args, ctx) => inspectClosed(args.name, ctx),
  apply: (args, plan, ctx) => applyClosed(args.name, plan.changes, ctx),
});

export const cryptdevModule: StateModule = { name: 'cryptdev', functions: { mapped, unmapped } };
