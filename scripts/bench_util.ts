/**
 * Small things the benchmarks share: a process's CPU time and RSS, a free loopback port.
 * @module
 */

/** CPU seconds (user + system) and RSS bytes of a process. */
export async function procUsage(pid: number): Promise<{ cpu: number; rss: number }> {
  const stat = await Deno.readTextFile(`/proc/${pid}/stat`);
  // After the command name (in parentheses, which may hold spaces): field 3 onwards.
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const ticks = Number(f[11]) + Number(f[12]); // utime + stime, in CLK_TCK (100 on Linux)
  return { cpu: ticks / 100, rss: Number(f[21]) * 4096 };
}

/** A TCP port free on loopback right now (the benchmark's processes bind it next). */
export function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}
