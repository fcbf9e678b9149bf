/**
 * `deno task bench`: runs every benchmark suite and prints its figures. Speeds are reported beside a
 * reference measured in the same run (Linux or Deno's kernel-socket path), because the machines are shared
 * and noisy; compare ratios, not absolute numbers across runs.
 *
 * Usage: deno task bench [suite ...]   (suites: wire ping tcp tcpparts nic taptcp http httptap vm soak;
 *   default: all but taptcp, which nic runs)
 *
 * @module
 */

type Bench = () => Promise<Record<string, number | string>>;

const suites: Record<string, () => Promise<Bench>> = {
  wire: async () => (await import("./wire_bench.ts")).benchWire,
  ping: async () => (await import("./ping_bench.ts")).benchPing,
  tcp: async () => (await import("./tcp_bench.ts")).benchTcp,
  tcpparts: async () => (await import("./tcp_parts_bench.ts")).benchTcpParts,
  nic: async () => (await import("./nic_bench.ts")).benchNic,
  // TCP bulk over a TAP alone (the nic suite runs it too, after the frame rates).
  taptcp: async () => {
    const { benchTapTcp } = await import("./tap_tcp_bench.ts");
    return () => benchTapTcp(3);
  },
  http: async () => (await import("./http_bench.ts")).benchHttp,
  httptap: async () => (await import("./http_tap_bench.ts")).benchHttpTap,
  vm: async () => (await import("./vm_bench.ts")).benchVm,
  // Ten simulated minutes (under a minute of real time); `deno run -A tests/bench/soak_bench.ts 30` runs longer.
  soak: async () => {
    const { benchSoak } = await import("./soak_bench.ts");
    return () => benchSoak(10);
  },
};

const chosen = Deno.args.length > 0
  ? Deno.args
  : Object.keys(suites).filter((name) => name !== "taptcp");
let failures = 0;
for (const name of chosen) {
  const load = suites[name];
  if (!load) {
    console.error(
      `Unknown benchmark suite '${name}': expected one of ${Object.keys(suites).join(", ")}`,
    );
    Deno.exit(2);
  }
  console.log(`\n## ${name}`);
  try {
    const figures = await (await load())();
    for (const [key, value] of Object.entries(figures)) {
      const shown = typeof value === "number" ? formatNumber(value) : value;
      console.log(`${key.padEnd(48)} ${shown}`);
    }
  } catch (error) {
    failures++;
    console.log(`failed: ${error instanceof Error ? error.message : String(error)}`);
  }
}
if (failures > 0) Deno.exit(1);

function formatNumber(value: number): string {
  if (Number.isInteger(value)) return value.toLocaleString("en-US");
  return value.toLocaleString("en-US", { maximumSignificantDigits: 4 });
}
