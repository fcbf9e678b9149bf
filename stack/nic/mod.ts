/**
 * The NICs: the interface every link implements, in-memory links with impairments, pcap capture, and
 * the host drivers (TAP and AF_PACKET over FFI). The virtio driver is in `./virtio/mod.ts`; `openNic`
 * loads it on demand. Host drivers load libc only when opened, so importing this needs no
 * `--allow-ffi`.
 *
 * @module
 */

export { type FrameFill, type FrameHandler, newNicStats } from "./nic.ts";
export type { Nic, NicCaps, NicStats } from "./nic.ts";
export { Loopback, MEMORY_TSO_MAX_BYTES, MemoryNic, MemoryPair } from "./memory.ts";
export type { Impairments, LoopbackOptions, MemoryPairOptions } from "./memory.ts";
export { FileSink, LINKTYPE_ETHERNET, MemorySink, PcapNic, PcapWriter } from "./pcap.ts";
export type { PcapNicOptions, PcapSink, PcapWriterOptions } from "./pcap.ts";
export { readPcap } from "./pcap_reader.ts";
export type { PcapFile, PcapRecord } from "./pcap_reader.ts";
export { TAP_TSO_MAX_BYTES, TapNic } from "./tap.ts";
export type { TapOptions } from "./tap.ts";
export { PacketNic } from "./packet.ts";
export type { PacketOptions } from "./packet.ts";
export { NIC_SPECS, openNic } from "./open.ts";
export type { OpenNicOptions } from "./open.ts";
export { NicError } from "./ffi/libc.ts";
