/**
 * Interrupts through uio_pci_generic, the optional alternative to polling: the kernel's stub driver owns
 * the device's INTx line and /dev/uioN becomes readable when it fires. The driver waits with a
 * nonblocking poll(2) (it runs on another thread, so the event loop keeps going), then re-arms the line
 * by clearing the INTx-disable bit in the command register: uio_pci_generic masks it in its handler, and
 * writing to /dev/uioN is not supported for it.
 *
 * @module
 */

import { errnoText, libc, Linux, openFile } from "../ffi/libc.ts";

/** Where a driver can wait for its device's interrupts. */
export interface InterruptSource {
  /** Re-enables the interrupt line (after the device's ISR was read). */
  unmask(): void;
  /** Resolves true when an interrupt arrived, false after `timeoutMs`. */
  wait(timeoutMs: number): Promise<boolean>;
  /** Releases the source. */
  close(): void;
}

const PCI_COMMAND = 4;
const COMMAND_INTX_DISABLE = 0x400;
const POLLIN = 1;

/** INTx interrupts of one PCI device bound to uio_pci_generic. */
export class UioInterrupts implements InterruptSource {
  readonly #fd: number;
  readonly #configFd: number;
  readonly #pollfd = new Uint8Array(8);
  readonly #count = new Uint8Array(4);
  readonly #word = new Uint8Array(2);
  #waiting = false;

  /** Opens `node` (/dev/uioN) and the device's config space at `configPath`. */
  constructor(node: string, configPath: string) {
    this.#fd = openFile(node, Linux.O_RDWR);
    this.#configFd = openFile(configPath, Linux.O_RDWR);
    new DataView(this.#pollfd.buffer).setInt32(0, this.#fd, true);
    new DataView(this.#pollfd.buffer).setInt16(4, POLLIN, true);
  }

  unmask(): void {
    const c = libc();
    if (c.pread(this.#configFd, this.#word, 2n, BigInt(PCI_COMMAND)) !== 2) {
      throw new Error(`Cannot read the PCI command register: ${errnoText()}`);
    }
    const command = this.#word[0] | (this.#word[1] << 8);
    if ((command & COMMAND_INTX_DISABLE) === 0) return;
    const cleared = command & ~COMMAND_INTX_DISABLE;
    this.#word[0] = cleared & 0xff;
    this.#word[1] = cleared >> 8;
    c.pwrite(this.#configFd, this.#word, 2n, BigInt(PCI_COMMAND));
  }

  async wait(timeoutMs: number): Promise<boolean> {
    // One poll at a time: a superseded wait's poll still owns the pollfd until its timeout.
    if (this.#waiting) {
      await new Promise((resolve) => setTimeout(resolve, Math.min(timeoutMs, 1)));
      return false;
    }
    this.#waiting = true;
    try {
      this.#pollfd[6] = 0;
      this.#pollfd[7] = 0;
      const ready = await libc().pollAsync(this.#pollfd, 1n, Math.max(0, Math.ceil(timeoutMs)));
      if (ready <= 0 || (this.#pollfd[6] & POLLIN) === 0) return false;
      // The 4-byte interrupt count; reading it consumes the event.
      libc().readBuffer(this.#fd, this.#count, 4n);
      return true;
    } finally {
      this.#waiting = false;
    }
  }

  close(): void {
    libc().close(this.#fd);
    libc().close(this.#configFd);
  }
}
