/**
 * A minimal guest app that needs no stack layers: it opens the virtio-net card with the user-space driver
 * and answers ARP requests, ICMP echo requests and UDP datagrams to port 7 (echo, RFC 862) for its address,
 * each by rewriting a copy of the request in a transmit buffer. It proves the driver end to end in the VM
 * until the stack's own apps (apps/udp_echo.ts) run there.
 *
 * Usage (in the guest): guest_echo.ts --ip 10.0.2.15/24 [--pci 00:03.0]
 *
 * @module
 */

import { parseArgs } from "node:util";
import { updateChecksum16 } from "../stack/wire/checksum.ts";
import { formatMac, parseIpv4, readIpv4 } from "../stack/wire/address.ts";
import { openVirtioNicSync } from "../stack/nic/virtio/mod.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: { ip: { type: "string" }, gateway: { type: "string" }, pci: { type: "string" } },
});
const address = parseIpv4(
  (values.ip ?? Deno.env.get("STACK_ADDRESS") ?? "10.0.2.15").split("/")[0],
);

// Replies are copies with complete checksums, which NEEDS_CSUM would spoil: no offloads.
const nic = openVirtioNicSync({ pciAddress: values.pci, offloads: false });
console.log(
  `guest_echo: ${nic.name} mac ${formatMac(nic.mac)} mtu ${nic.mtu} features 0x${
    nic.features.toString(16)
  }, DMA in ${nic.dmaKind}, answering ARP, ping and UDP port 7 on ${values.ip ?? "10.0.2.15"}`,
);

let running = true;
Deno.addSignalListener("SIGTERM", () => (running = false));

let reply: Uint8Array = new Uint8Array(0);
let replyOffset = 0;
let replyLength = 0;
const copyReply = (bytes: Uint8Array, offset: number) => {
  bytes.set(reply.subarray(replyOffset, replyOffset + replyLength), offset);
};

/** Swaps the Ethernet addresses (and the IPv4 ones when `ip`) of the copy at `out`. */
function swapAddresses(bytes: Uint8Array, out: number, mac: number): void {
  bytes.copyWithin(out, out + 6, out + 12);
  for (let i = 5; i >= 0; i--) bytes[out + 6 + (5 - i)] = Math.floor(mac / 2 ** (8 * i)) & 0xff;
}

function answer(bytes: Uint8Array, offset: number, length: number): void {
  const type = (bytes[offset + 12] << 8) | bytes[offset + 13];
  if (type === 0x0806 && length >= 42) {
    // ARP request (RFC 826) for our address: turn it into the reply.
    if (((bytes[offset + 20] << 8) | bytes[offset + 21]) !== 1) return;
    if (readIpv4(bytes, offset + 38) !== address) return;
    send(bytes, offset, 42, (out) => {
      swapAddresses(out, 0, nic.mac);
      out[21] = 2;
      out.copyWithin(32, 22, 32); // the requester becomes the target
      for (let i = 5; i >= 0; i--) out[22 + (5 - i)] = Math.floor(nic.mac / 2 ** (8 * i)) & 0xff;
      out[28] = (address >>> 24) & 0xff;
      out[29] = (address >>> 16) & 0xff;
      out[30] = (address >>> 8) & 0xff;
      out[31] = address & 0xff;
    });
    return;
  }
  if (type !== 0x0800 || length < 34) return;
  const ip = offset + 14;
  const ihl = (bytes[ip] & 0x0f) * 4;
  const total = (bytes[ip + 2] << 8) | bytes[ip + 3];
  if (ihl < 20 || total < ihl + 8 || 14 + total > length) return;
  if (readIpv4(bytes, ip + 16) !== address) return;
  const protocol = bytes[ip + 9];
  const transport = 14 + ihl;
  const isEcho = protocol === 1 && bytes[ip + ihl] === 8;
  const isUdpEcho = protocol === 17 && ((bytes[ip + ihl + 2] << 8) | bytes[ip + ihl + 3]) === 7;
  if (!isEcho && !isUdpEcho) return;
  send(bytes, offset, 14 + total, (out) => {
    swapAddresses(out, 0, nic.mac);
    // Swapping source and destination (addresses, ports) leaves every checksum unchanged.
    const src = out.slice(26, 30);
    out.copyWithin(26, 30, 34);
    out.set(src, 30);
    if (isEcho) {
      out[transport] = 0;
      const old = (out[transport + 2] << 8) | out[transport + 3];
      const sum = updateChecksum16(old, 0x0800, 0x0000);
      out[transport + 2] = sum >> 8;
      out[transport + 3] = sum & 0xff;
    } else {
      const port = out.slice(transport, transport + 2);
      out.copyWithin(transport, transport + 2, transport + 4);
      out.set(port, transport + 2);
    }
  });
}

const scratch = new Uint8Array(2048);
function send(
  bytes: Uint8Array,
  offset: number,
  length: number,
  edit: (out: Uint8Array) => void,
): void {
  scratch.set(bytes.subarray(offset, offset + length));
  edit(scratch);
  reply = scratch;
  replyOffset = 0;
  replyLength = length;
  nic.send(0, length, copyReply);
}

while (running) {
  const handled = nic.receive(0, answer);
  nic.flush(0);
  if (handled === 0) await nic.wait(100);
}
console.log(`guest_echo: stopping, stats ${JSON.stringify(nic.stats)}`);
nic.close();
