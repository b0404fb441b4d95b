// @ts-check
// One VM at a time on the whole machine (two TCG guests on 2 cores run 3x slower each).
// util-linux flock holds the lock in a helper process that lives exactly as long as its
// stdin pipe: if this process dies for any reason the pipe closes and the kernel frees the lock.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { VmDependencyError, VmLockTimeoutError } from './errors.mjs';

/** @typedef {{ release(): Promise<void> }} VmLock */

/** @returns {string} $BRINE_VM_LOCK, else brine-vm.lock in the temp directory (shared by every checkout). */
export function lockPath() {
  return process.env.BRINE_VM_LOCK ?? join(tmpdir(), 'brine-vm.lock');
}

/**
 * Waits for the machine-wide VM lock.
 * @param {number} timeoutMs how long to wait before giving up
 * @returns {Promise<VmLock>}
 */
export async function acquireVmLock(timeoutMs) {
  const path = lockPath();
  const holder = spawn(
    'flock',
    ['--exclusive', '--wait', String(Math.ceil(timeoutMs / 1000)), path, 'sh', '-c', 'echo locked; exec cat >/dev/null'],
    {
      stdio: ['pipe', 'pipe', 'inherit'],
    },
  );
  const exited = once(holder, 'exit');
  const locked = once(holder.stdout, 'data');
  /** @type {'locked' | 'exited'} */
  let first;
  try {
    // once() on 'exit' rejects if the process cannot be spawned at all.
    first = await Promise.race([locked.then(() => /** @type {const} */ ('locked')), exited.then(() => /** @type {const} */ ('exited'))]);
  } catch (e) {
    throw new VmDependencyError(`cannot run flock for the VM lock ${path}: ${/** @type {Error} */ (e).message}`, ['util-linux']);
  }
  if (first === 'exited') {
    throw new VmLockTimeoutError(
      `another VM held the lock ${path} for more than ${Math.round(timeoutMs / 1000)} s; find its QEMU with: fuser -v ${path}`,
    );
  }
  return {
    async release() {
      holder.stdin.end();
      await exited;
    },
  };
}
