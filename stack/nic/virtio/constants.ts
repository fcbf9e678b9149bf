/**
 * Numbers from the virtio 1.x specification (OASIS virtio v1.2) that the driver and the device model share:
 * feature bits, device status bits, ring flags, PCI capability types and the virtio-net header layout.
 *
 * @module
 */

/** Device status bits (virtio 1.2 §2.1). */
export const Status = {
  ACKNOWLEDGE: 1,
  DRIVER: 2,
  DRIVER_OK: 4,
  FEATURES_OK: 8,
  DEVICE_NEEDS_RESET: 0x40,
  FAILED: 0x80,
} as const;

/** Feature bit numbers (virtio 1.2 §5.1.3 for the network device, §6 for the reserved ones). */
export const Feature = {
  NET_CSUM: 0,
  NET_GUEST_CSUM: 1,
  NET_MTU: 3,
  NET_MAC: 5,
  NET_MRG_RXBUF: 15,
  NET_STATUS: 16,
  RING_INDIRECT_DESC: 28,
  RING_EVENT_IDX: 29,
  VERSION_1: 32,
  ACCESS_PLATFORM: 33,
} as const;

/** The bit mask (a bigint, since features span 64 bits) of one feature bit number. */
export function featureBit(bit: number): bigint {
  return 1n << BigInt(bit);
}

/** Human names of the features the driver knows, for logs and error messages. */
export const FEATURE_NAMES: Record<number, string> = {
  0: "CSUM",
  1: "GUEST_CSUM",
  3: "MTU",
  5: "MAC",
  15: "MRG_RXBUF",
  16: "STATUS",
  28: "INDIRECT_DESC",
  29: "EVENT_IDX",
  32: "VERSION_1",
  33: "ACCESS_PLATFORM",
};

/** Lists the names of the set bits of a feature mask (unknown bits by number). */
export function featureNames(features: bigint): string[] {
  const names: string[] = [];
  for (let bit = 0; bit < 64; bit++) {
    if (features & featureBit(bit)) names.push(FEATURE_NAMES[bit] ?? `bit${bit}`);
  }
  return names;
}

/** Split virtqueue descriptor flags (virtio 1.2 §2.7.5). */
export const DescFlag = { NEXT: 1, WRITE: 2, INDIRECT: 4 } as const;

/** Driver-area flag: the driver does not want used-buffer notifications (§2.7.7). */
export const AVAIL_F_NO_INTERRUPT = 1;
/** Device-area flag: the device does not want available-buffer notifications (§2.7.10). */
export const USED_F_NO_NOTIFY = 1;

/** virtio PCI capability `cfg_type` values (virtio 1.2 §4.1.4). */
export const PciCapType = { COMMON: 1, NOTIFY: 2, ISR: 3, DEVICE: 4, PCI: 5 } as const;

/** The virtio vendor id and the device ids of a network card (modern 0x1041, transitional 0x1000). */
export const VIRTIO_VENDOR = 0x1af4;
/** The modern (virtio 1.x only) network device id. */
export const VIRTIO_NET_MODERN = 0x1041;
/** The transitional network device id (its subsystem id is 1). */
export const VIRTIO_NET_TRANSITIONAL = 0x1000;

/** Length of `struct virtio_net_hdr` with `num_buffers`, always used with VERSION_1 (§5.1.6). */
export const NET_HDR_LENGTH = 12;
/** virtio_net_hdr flag: the device (or driver) must complete the checksum at csum_start/csum_offset. */
export const NET_HDR_F_NEEDS_CSUM = 1;
/** virtio_net_hdr flag: the checksum of this received packet was verified. */
export const NET_HDR_F_DATA_VALID = 2;
/** virtio-net config `status` bit: the link is up (§5.1.4). */
export const NET_S_LINK_UP = 1;

/** Byte offsets in the network device configuration (§5.1.4). */
export const NetConfig = { MAC: 0, STATUS: 6, MAX_VIRTQUEUE_PAIRS: 8, MTU: 10 } as const;

/** Byte offsets of `struct virtio_pci_common_cfg` (virtio 1.2 §4.1.4.3). */
export const CommonCfg = {
  DEVICE_FEATURE_SELECT: 0,
  DEVICE_FEATURE: 4,
  DRIVER_FEATURE_SELECT: 8,
  DRIVER_FEATURE: 12,
  MSIX_CONFIG: 16,
  NUM_QUEUES: 18,
  DEVICE_STATUS: 20,
  CONFIG_GENERATION: 21,
  QUEUE_SELECT: 22,
  QUEUE_SIZE: 24,
  QUEUE_MSIX_VECTOR: 26,
  QUEUE_ENABLE: 28,
  QUEUE_NOTIFY_OFF: 30,
  QUEUE_DESC: 32,
  QUEUE_DRIVER: 40,
  QUEUE_DEVICE: 48,
  LENGTH: 56,
} as const;
