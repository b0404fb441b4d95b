// Shell and parsing helpers for VM tests that boot the minion's systemd unit.

/** Waits in the guest until brine-minion is active (its startup states ran), or exits 70 with its journal. */
export const WAIT_READY = (seconds: number) => `
for i in $(seq ${seconds}); do
  [ "$(systemctl is-active brine-minion)" = active ] && break
  sleep 1
done
if [ "$(systemctl is-active brine-minion)" != active ]; then
  echo "minion not ready after ${seconds}s"; systemctl status brine-minion --no-pager | cat; journalctl -u brine-minion -o cat | tail -40; exit 70
fi`;

/** key=value lines a guest command printed. */
export const facts = (stdout: string): Record<string, string> =>
  Object.fromEntries(
    stdout
      .split('\n')
      .filter((l) => /^[a-z_]+=/.test(l))
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  );
