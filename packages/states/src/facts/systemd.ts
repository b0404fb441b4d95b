import { commandFact, failure } from './fact.js';

/** What `systemctl show` says of a unit, as far as the service states care. */
export interface Unit {
  Id: string;
  LoadState: string;
  ActiveState: string;
  UnitFileState: string;
}

export const unit = commandFact(
  'systemd.unit',
  (name: string) => ['systemctl', 'show', '--property=Id,LoadState,ActiveState,UnitFileState', '--', name],
  (out, name): Unit => {
    if (out.exitCode !== 0) throw new Error(`systemctl could not ask systemd about ${name}: ${failure(out)}`);
    const fields = Object.fromEntries(
      out.stdout.split('\n').map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
    );
    return {
      Id: fields['Id'] || name,
      LoadState: fields['LoadState'] ?? '',
      ActiveState: fields['ActiveState'] ?? '',
      UnitFileState: fields['UnitFileState'] ?? '',
    };
  },
);
