/**
 * What a node can mine with: OS, CPU (model, cores/threads, AES/AVX2), memory and huge pages,
 * GPUs, and the miner binaries installed. Probed from `/proc/cpuinfo`, `/proc/meminfo`,
 * `/sys/class/drm` (AMD) and `nvidia-smi` where the permission set allows it; anything that cannot
 * be read is reported as unknown, never guessed. Exchanged in the handshake payload and in stats.
 * @module
 */
import { cpus } from "node:os";
import type { Capabilities } from "./schema.ts";

/** Parsed `/proc/cpuinfo`: model, physical cores, logical threads, flags. */
export function parseCpuinfo(text: string): {
  model: string | null;
  cores: number | null;
  threads: number;
  flags: Set<string>;
} {
  let model: string | null = null;
  let threads = 0;
  const flags = new Set<string>();
  const physCores = new Set<string>();
  let physId = "0";
  let coresPerPackage: number | null = null;
  for (const line of text.split("\n")) {
    const i = line.indexOf(":");
    if (i < 0) continue;
    const key = line.slice(0, i).trim();
    const value = line.slice(i + 1).trim();
    if (key === "processor") threads++;
    else if (key === "model name" && model === null) model = value;
    else if (key === "flags" && flags.size === 0) {
      for (const f of value.split(/\s+/)) flags.add(f);
    } else if (key === "physical id") physId = value;
    else if (key === "core id") physCores.add(`${physId}:${value}`);
    else if (key === "cpu cores" && coresPerPackage === null) coresPerPackage = Number(value);
  }
  const cores = physCores.size || coresPerPackage || null;
  return { model, cores, threads, flags };
}

/** Parsed `/proc/meminfo` (values in kB). */
export function parseMeminfo(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split("\n")) {
    const m = /^([\w()]+):\s+(\d+)/.exec(line);
    if (m) out.set(m[1], Number(m[2]));
  }
  return out;
}

function readText(path: string): string | null {
  try {
    return Deno.readTextFileSync(path);
  } catch {
    return null;
  }
}

async function nvidiaGpus(): Promise<Capabilities["gpus"]> {
  try {
    const out = await new Deno.Command("nvidia-smi", {
      args: ["--query-gpu=name,memory.total", "--format=csv,noheader,nounits"],
      stdout: "piped",
      stderr: "null",
      stdin: "null",
    }).output();
    if (!out.success) return [];
    return new TextDecoder().decode(out.stdout).split("\n").filter((l) => l.trim()).slice(0, 32)
      .map((l) => {
        const [name, mem] = l.split(",").map((x) => x.trim());
        return {
          vendor: "nvidia" as const,
          name: name.slice(0, 128),
          memoryMB: Number.isFinite(Number(mem)) ? Math.round(Number(mem)) : null,
        };
      });
  } catch {
    return []; // not installed, or not in this binary's permission set
  }
}

function amdGpus(): Capabilities["gpus"] {
  const gpus: Capabilities["gpus"] = [];
  try {
    for (const e of Deno.readDirSync("/sys/class/drm")) {
      if (!/^card\d+$/.test(e.name)) continue;
      const dev = `/sys/class/drm/${e.name}/device`;
      if (readText(`${dev}/vendor`)?.trim() !== "0x1002") continue;
      const vram = readText(`${dev}/mem_info_vram_total`);
      gpus.push({
        vendor: "amd",
        name: readText(`${dev}/product_name`)?.trim().slice(0, 128) ||
          `AMD ${readText(`${dev}/device`)?.trim() ?? "GPU"}`,
        memoryMB: vram ? Math.round(Number(vram) / 1048576) : null,
      });
    }
  } catch { /* no DRM devices, or not readable */ }
  return gpus.slice(0, 32);
}

/** Options for {@link probeCapabilities}. */
export interface ProbeOptions {
  /** Skip running miner binaries / nvidia-smi (for quick probes). */
  skipCommands?: boolean;
  /** The miners installed on this node and their versions (runs their binaries). */
  miners?: () => Promise<{ type: string; version: string | null }[]>;
}

/** Probes this machine's capabilities. */
export async function probeCapabilities(options: ProbeOptions = {}): Promise<Capabilities> {
  const cpu = parseCpuinfo(readText("/proc/cpuinfo") ?? "");
  const mem = parseMeminfo(readText("/proc/meminfo") ?? "");
  const hasCpuinfo = cpu.threads > 0;
  let memTotal = mem.get("MemTotal");
  let memFree = mem.get("MemAvailable") ?? mem.get("MemFree");
  if (memTotal === undefined) {
    try {
      const m = Deno.systemMemoryInfo();
      memTotal = m.total / 1024;
      memFree = m.available / 1024;
    } catch { /* not permitted */ }
  }
  // Deno gates /proc and /sys behind --allow-all (denoland/deno#25055): under a binary's
  // permission set they are unreadable, so the model comes from node:os (`--allow-sys=cpus`) and
  // the CPU flags and huge pages stay unknown (null).
  let model = cpu.model;
  if (!hasCpuinfo) {
    try {
      model = cpus()[0]?.model?.trim() || null;
    } catch { /* not permitted */ }
  }
  const miners = options.miners && !options.skipCommands
    ? (await options.miners()).map((m) => ({ type: m.type, version: m.version }))
    : [];
  return {
    os: Deno.build.os,
    arch: Deno.build.arch,
    cpuModel: model?.slice(0, 128) ?? null,
    cores: cpu.cores,
    threads: hasCpuinfo ? cpu.threads : (navigator.hardwareConcurrency || 1),
    aes: hasCpuinfo ? cpu.flags.has("aes") : null,
    avx2: hasCpuinfo ? cpu.flags.has("avx2") : null,
    memTotalMB: memTotal === undefined ? null : Math.round(memTotal / 1024),
    memFreeMB: memFree === undefined ? null : Math.round(memFree / 1024),
    hugePagesTotal: mem.get("HugePages_Total") ?? null,
    hugePagesFree: mem.get("HugePages_Free") ?? null,
    gpus: [...(options.skipCommands ? [] : await nvidiaGpus()), ...amdGpus()],
    miners: miners.slice(0, 32),
  };
}

/** Warnings for running a RandomX (XMRig CPU) profile on a node with these capabilities. */
export function randomxWarnings(caps: Capabilities): string[] {
  const out: string[] = [];
  if (caps.memFreeMB !== null && caps.memFreeMB < 2560) {
    out.push(`only ${caps.memFreeMB} MB of free RAM: RandomX needs about 2.5 GB (fast mode)`);
  }
  if (caps.hugePagesTotal === 0 || caps.hugePagesFree === 0) {
    out.push("no huge pages available: RandomX hashes 20-30 % slower (sysctl vm.nr_hugepages)");
  }
  return out;
}

/** One line for humans: `linux/x86_64, Xeon (2C/2T, AES, AVX2), RAM 22.5/23.5 GB free, ...`. */
export function summarizeCapabilities(caps: Capabilities): string {
  const gb = (mb: number | null) => (mb === null ? "?" : (mb / 1024).toFixed(1));
  const cpuFlags = [caps.aes ? "AES" : null, caps.avx2 ? "AVX2" : null].filter(Boolean);
  const cpu = `${caps.cpuModel ?? "CPU"} (${caps.cores ?? "?"}C/${caps.threads}T${
    cpuFlags.length ? `, ${cpuFlags.join(", ")}` : ""
  })`;
  const huge = caps.hugePagesTotal === null
    ? "huge pages ?"
    : `huge pages ${caps.hugePagesFree ?? "?"}/${caps.hugePagesTotal}`;
  const gpus = caps.gpus.length ? caps.gpus.map((g) => g.name).join(", ") : "no GPU";
  const miners = caps.miners.length
    ? caps.miners.map((m) => `${m.type} ${m.version ?? "?"}`).join(", ")
    : "no miners";
  return `${caps.os}/${caps.arch}, ${cpu}, RAM ${gb(caps.memFreeMB)}/${
    gb(caps.memTotalMB)
  } GB free, ${huge}, ${gpus}, ${miners}`;
}
