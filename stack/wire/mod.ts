/**
 * The wire formats: zero-copy views over packet bytes and the plain reprs beside them, for every protocol
 * the stack speaks, plus checksums, addresses and sequence-number arithmetic.
 *
 * @module
 */

export * from "./error.ts";
export * from "./view.ts";
export * from "./address.ts";
export * from "./seq.ts";
export * from "./checksum.ts";
export * from "./ethernet.ts";
export * from "./arp.ts";
export * from "./ipv4.ts";
export * from "./icmpv4.ts";
export * from "./udp.ts";
export * from "./tcp.ts";
export * from "./ipv6_address.ts";
export * from "./ipv6.ts";
export * from "./ipv6_ext.ts";
export * from "./icmpv6.ts";
export * from "./ndp.ts";
export * from "./mld.ts";
