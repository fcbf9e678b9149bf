/**
 * The handler interfaces every layer shares, in the ethox style: a layer hands each incoming packet to a
 * Recv handler (`receive`), and during `poll` calls each Send handler (`send`) with the layer's transmit
 * side so that the handler builds its packet in place in a NIC buffer.
 *
 * @module
 */

/** What a send did: sent, queued behind ARP resolution, no NIC buffer free (retry on a later poll), or no
 * route / no usable source address. */
export type SendResult = "sent" | "queued" | "busy" | "unroutable";

/** A Send handler: called once per `poll` with the layer's transmit side `tx`. */
export interface SendHandler<Tx> {
  /** Transmits what is due through `tx`; returns true when it sent anything. */
  send(tx: Tx, now: number): boolean;
  /** The next time it has something due, or undefined (it is still called on every poll). */
  pollAt?(now: number): number | undefined;
}

/** Calls every Send handler once; true when any sent. */
export function runSenders<Tx>(handlers: readonly SendHandler<Tx>[], tx: Tx, now: number): boolean {
  let work = false;
  for (let i = 0; i < handlers.length; i++) if (handlers[i].send(tx, now)) work = true;
  return work;
}

/** The earliest `pollAt` of the handlers, folded into `at`. */
export function sendersPollAt<Tx>(
  handlers: readonly SendHandler<Tx>[],
  now: number,
  at: number | undefined,
): number | undefined {
  for (const handler of handlers) at = earliest(at, handler.pollAt?.(now));
  return at;
}

/** The earlier of two optional deadlines. */
export function earliest(a: number | undefined, b: number | undefined): number | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return a < b ? a : b;
}

/** Adds `handler` to `list`; the returned function removes it. */
export function addHandler<T>(list: T[], handler: T): () => void {
  list.push(handler);
  return () => {
    const i = list.indexOf(handler);
    if (i >= 0) list.splice(i, 1);
  };
}
