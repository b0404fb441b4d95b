// @ts-check
// Typed failures of the VM harness. Each message says what to do next; the ones raised
// after QEMU started carry the tail of the guest console, where the guest explains itself.

/** How many console lines an error message shows. */
const TAIL_LINES = 40;

/**
 * The last lines of a console log, ready to append to a message.
 * @param {string} consoleLog
 * @returns {string}
 */
export function consoleTail(consoleLog) {
  const lines = consoleLog.replace(/\r/g, '').trimEnd().split('\n');
  return lines.slice(-TAIL_LINES).join('\n');
}

/** Base class: every harness failure is a VmError. */
export class VmError extends Error {
  /**
   * @param {string} message
   * @param {string} [consoleLog] the whole guest console, when QEMU ran
   */
  constructor(message, consoleLog = '') {
    super(consoleLog ? `${message}\n--- last lines of the guest console ---\n${consoleTail(consoleLog)}` : message);
    this.name = new.target.name;
    /** @readonly */
    this.consoleLog = consoleLog;
  }
}

/** Debian packages the harness needs are missing and could not be installed. */
export class VmDependencyError extends VmError {
  /**
   * @param {string} message
   * @param {readonly string[]} packages
   */
  constructor(message, packages) {
    super(message);
    /** @readonly */
    this.packages = packages;
  }
}

/** The options given to runInVm are unusable; nothing was started. */
export class VmUsageError extends VmError {}

/** Another VM held the machine-wide VM lock for too long. */
export class VmLockTimeoutError extends VmError {}

/** The guest did not reach its second stage (root switched, about to run the job) in time. */
export class VmBootTimeoutError extends VmError {}

/** The guest kernel panicked; its console says why. */
export class VmKernelPanicError extends VmError {}

/** QEMU exited (or could not start) without the guest reporting an exit status. */
export class VmCrashError extends VmError {
  /**
   * @param {string} message
   * @param {string} consoleLog
   * @param {string} qemuStderr
   */
  constructor(message, consoleLog, qemuStderr) {
    super(qemuStderr.trim() ? `${message}\n--- QEMU stderr ---\n${qemuStderr.trim()}` : message, consoleLog);
    /** @readonly */
    this.qemuStderr = qemuStderr;
  }
}

/** The `setup` script failed inside the guest, so the command did not run. */
export class VmSetupError extends VmError {
  /**
   * @param {number} exitCode
   * @param {string} output the setup script's stdout and stderr, interleaved
   * @param {string} consoleLog
   */
  constructor(exitCode, output, consoleLog) {
    super(`the guest setup script exited with status ${exitCode}; its output:\n${output.trimEnd()}`, consoleLog);
    /** @readonly */
    this.exitCode = exitCode;
    /** @readonly */
    this.output = output;
  }
}

/** The guest command ran past its deadline; the output it wrote until then is kept. */
export class VmTimeoutError extends VmError {
  /**
   * @param {string} message
   * @param {{ stdout: string, stderr: string, consoleLog: string }} partial
   */
  constructor(message, partial) {
    super(
      `${message}\n--- command stdout so far ---\n${partial.stdout}\n--- command stderr so far ---\n${partial.stderr}`,
      partial.consoleLog,
    );
    /** @readonly */
    this.stdout = partial.stdout;
    /** @readonly */
    this.stderr = partial.stderr;
  }
}
