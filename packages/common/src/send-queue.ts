/** The one method of a zeromq.js socket this module needs. */
export interface Sender<M> {
  send(message: M): Promise<void>;
}

/**
 * zeromq.js allows one send in flight per socket; a second concurrent call throws
 * EBUSY. This serialises sends in call order without making callers wait on each
 * other's results: each gets its own promise.
 */
export class SendQueue<M> {
  private tail: Promise<void> = Promise.resolve();

  constructor(private readonly socket: Sender<M>) {}

  send(message: M): Promise<void> {
    const result = this.tail.then(() => this.socket.send(message));
    // A failed send must not poison the ones queued behind it.
    this.tail = result.catch(() => undefined);
    return result;
  }
}
