/**
 * What the operating system offers to keep miners tied to their node, through the few system
 * tools a worker's permission set allows ({@link PROCESS_TOOLS}):
 *
 * - Linux: the miner is started through `setpriv --pdeathsig KILL`, so the kernel kills it the
 *   moment its node dies, `kill -9` included. `setpriv` is only ever given an executable this
 *   process may run itself, so it widens nothing.
 * - Everywhere: `ps -o lstart= -p PID` tells whether a process recorded at spawn is still the same
 *   process (PID and start time), and `kill` stops it; a restarted node uses both to stop a miner
 *   that outlived its node (macOS and Windows have no parent-death signal; on Linux it covers the
 *   instant between fork and exec).
 *
 * Deno gives `/proc` and `Deno.kill` only to unrestricted processes, hence the tools.
 * @module
 */
import { mayRun } from "./binaries.ts";

/** The system tools a worker may run, per OS (baked into its permission set). */
export const PROCESS_TOOLS: Readonly<Record<"linux" | "darwin" | "windows", readonly string[]>> = {
  linux: ["/usr/bin/setpriv", "/usr/bin/ps", "/usr/bin/kill"],
  darwin: ["/bin/ps", "/bin/kill"],
  windows: ["C:\\Windows\\System32\\tasklist.exe", "C:\\Windows\\System32\\taskkill.exe"],
};

const os = (): "linux" | "darwin" | "windows" =>
  Deno.build.os === "windows" ? "windows" : Deno.build.os === "darwin" ? "darwin" : "linux";

const tool = (name: string): string | null => {
  const path = PROCESS_TOOLS[os()].find((p) => p.endsWith(`/${name}`) || p.endsWith(`\\${name}`));
  return path && mayRun(path) ? path : null;
};

async function run(
  binary: string,
  args: string[],
): Promise<{ code: number; stdout: string } | null> {
  try {
    const out = await new Deno.Command(binary, {
      args,
      stdin: "null",
      stdout: "piped",
      stderr: "null",
    }).output();
    return { code: out.code, stdout: new TextDecoder().decode(out.stdout) };
  } catch {
    return null;
  }
}

/**
 * The argv prefix that makes a miner die with this process (`setpriv --pdeathsig KILL --` on
 * Linux), or an empty prefix where the OS or the permission set offers none.
 */
export function deathSignalPrefix(binary: string): string[] {
  if (os() !== "linux" || !mayRun(binary)) return [];
  const setpriv = tool("setpriv");
  return setpriv ? [setpriv, "--pdeathsig", "KILL", "--"] : [];
}

/** A process's identity beyond its PID: its start time as `ps` reports it (null: unknown). */
export async function processStartTime(pid: number): Promise<string | null> {
  if (os() === "windows") {
    const tasklist = tool("tasklist.exe");
    if (!tasklist) return null;
    const out = await run(tasklist, ["/FI", `PID eq ${pid}`, "/FO", "CSV", "/NH"]);
    const image = /^"([^"]+)","(\d+)"/m.exec(out?.stdout ?? "");
    return image && Number(image[2]) === pid ? `image:${image[1]}` : null;
  }
  const ps = tool("ps");
  if (!ps) return null;
  const out = await run(ps, ["-o", "stat=", "-o", "lstart=", "-p", String(pid)]);
  const m = /^\s*(\S+)\s+(.+?)\s*$/.exec(out?.code === 0 ? out.stdout : "");
  // A zombie (exited, not yet reaped) is gone for every purpose here.
  return m && !m[1].startsWith("Z") ? m[2] : null;
}

/** Whether process tools are available here (they are needed to find and stop a survivor). */
export function canTrackProcesses(): boolean {
  return os() === "windows"
    ? tool("tasklist.exe") !== null && tool("taskkill.exe") !== null
    : tool("ps") !== null && tool("kill") !== null;
}

/** Sends `signal` to `pid` through the system's `kill` (`taskkill` on Windows). */
export async function signalProcess(pid: number, signal: "TERM" | "KILL"): Promise<boolean> {
  if (os() === "windows") {
    const taskkill = tool("taskkill.exe");
    if (!taskkill) return false;
    const out = await run(taskkill, ["/PID", String(pid), ...(signal === "KILL" ? ["/F"] : [])]);
    return out?.code === 0;
  }
  const kill = tool("kill");
  if (!kill) return false;
  const out = await run(kill, ["-s", signal, String(pid)]);
  return out?.code === 0;
}
