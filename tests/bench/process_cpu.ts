/**
 * CPU time of another process, read from /proc, for benchmarks that report CPU per request or per
 * transfer beside the wall-clock figures.
 *
 * @module
 */

/** USER_HZ, the unit of /proc/PID/stat times. */
const CLOCK_TICKS = 100;

/** CPU seconds (user + system) the process `pid` has used, or NaN when /proc cannot tell. */
export function processCpuSeconds(pid: number): number {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    // The fields after the command name, which may hold spaces: utime and stime are fields 14 and
    // 15 of proc(5).
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
  } catch {
    return NaN;
  }
}
