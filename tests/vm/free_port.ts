/**
 * A port that was free a moment ago on 127.0.0.1: the kernel picks it, so parallel runs do not collide.
 * Shared by the VM tests and the VM benchmark, which forward such a port into the guest.
 *
 * @module
 */

import { createSocket } from "node:dgram";

/** Returns a TCP or UDP port on 127.0.0.1 that was free when asked. */
export async function freePort(protocol: "tcp" | "udp" = "tcp"): Promise<number> {
  if (protocol === "tcp") {
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = (listener.addr as Deno.NetAddr).port;
    listener.close();
    return port;
  }
  const socket = createSocket("udp4");
  await new Promise<void>((resolve) => socket.bind(0, "127.0.0.1", () => resolve()));
  const port = socket.address().port;
  await new Promise<void>((resolve) => socket.close(() => resolve()));
  return port;
}
