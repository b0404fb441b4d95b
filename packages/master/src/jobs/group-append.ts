import { open } from 'node:fs/promises';

interface Queued {
  line: string;
  done: () => void;
  fail: (err: Error) => void;
}

/**
 * Appends lines to files durably, many at a time: lines that arrive while a write
 * is in flight wait for it and then go out together, one write and one fsync per
 * file (group commit). Fifty returns arriving at once cost a few fsyncs, not fifty
 * atomic file writes. Files are created 0600.
 */
export class GroupAppender {
  private queue = new Map<string, Queued[]>();
  private writing: Promise<void> | undefined;
  /** Files known to end with a newline (or to be new), so a line cannot join a torn one. */
  private readonly clean = new Set<string>();

  /** Marks a file this process creates empty, so its first append skips the torn-line check. */
  fresh(path: string): void {
    this.clean.add(path);
  }

  /** Drops what is known about a file that was removed. */
  forget(path: string): void {
    this.clean.delete(path);
  }

  /** Settles once the line is on disk; rejects if it could not be written. */
  append(path: string, line: string): Promise<void> {
    return new Promise((done, fail) => {
      let lines = this.queue.get(path);
      if (!lines) this.queue.set(path, (lines = []));
      lines.push({ line, done, fail });
      this.writing ??= this.drain();
    });
  }

  private async drain(): Promise<void> {
    // Let the returns that arrived in the same turn join the first batch.
    await Promise.resolve();
    while (this.queue.size > 0) {
      const batch = this.queue;
      this.queue = new Map();
      await Promise.all(Array.from(batch, ([path, lines]) => this.write(path, lines)));
    }
    this.writing = undefined;
  }

  private async write(path: string, lines: Queued[]): Promise<void> {
    try {
      const file = await open(path, 'a+', 0o600);
      try {
        let text = lines.map((q) => `${q.line}\n`).join('');
        if (!this.clean.has(path)) {
          // A crash mid-append leaves a partial last line: start on a line of our own.
          const { size } = await file.stat();
          const last = Buffer.alloc(1);
          if (size > 0 && (await file.read(last, 0, 1, size - 1)).bytesRead === 1 && last[0] !== 0x0a) text = `\n${text}`;
        }
        await file.writeFile(text);
        await file.sync();
        this.clean.add(path);
      } finally {
        await file.close();
      }
      for (const q of lines) q.done();
    } catch (err) {
      // A write that failed part-way may have left a partial line.
      this.clean.delete(path);
      for (const q of lines) q.fail(err as Error);
    }
  }
}
