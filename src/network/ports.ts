/**
 * Published ports: docker's `-p` grammar ([ip:][hostPort:]containerPort[/proto], ranges on either
 * side) turned into the API's ExposedPorts and PortBindings, and those turned into the bindings the
 * network manager programs. Shared by the CLI (parsing) and the engine (validation at create).
 */
import { InvalidArgument } from "../errdefs.js";

export type PortMap = Record<string, { HostIp?: string; HostPort?: string }[] | null>;

export interface Binding {
  hostIp: string;
  /** 0: any free port. */
  hostPort: number;
  /** Last port of a host range for one container port (docker takes the first free one). */
  hostPortEnd?: number;
  containerPort: number;
  protocol: "tcp" | "udp";
}

const isIpv4 = (s: string): boolean => /^\d{1,3}(\.\d{1,3}){3}$/.test(s) && s.split(".").every((o) => Number(o) <= 255);

/** "8080" or "8000-8010"; a host port may be 0 (any free port). */
function range(s: string, what: string, spec: string): [number, number] {
  const m = /^(\d+)(?:-(\d+))?$/.exec(s);
  const lo = Number(m?.[1]);
  const hi = Number(m?.[2] ?? m?.[1]);
  if (what === "host port" && s === "0") return [0, 0];
  if (!m || lo < 1 || hi > 65535 || hi < lo) throw new InvalidArgument(`invalid ${what} in "${spec}": ports are 1-65535, a range is low-high`);
  return [lo, hi];
}

/** `-p` values → ExposedPorts and PortBindings, as docker's CLI sends them. */
export function parsePublish(specs: string[]): { exposed: Record<string, object>; bindings: PortMap } {
  const exposed: Record<string, object> = {};
  const bindings: PortMap = {};
  for (const spec of specs) {
    const [body, proto = "tcp", extra] = spec.split("/");
    if (extra !== undefined || !["tcp", "udp"].includes(proto)) throw new InvalidArgument(`invalid proto in "${spec}": tcp or udp`);
    const parts = body!.split(":");
    if (parts.length > 3) throw new InvalidArgument(`invalid port format "${spec}": expected [ip:][hostPort:]containerPort[/proto]`);
    const ctr = parts.pop()!;
    const hostPort = parts.pop() ?? "";
    const ip = parts.pop() ?? "";
    if (ip && !isIpv4(ip)) throw new InvalidArgument(`invalid IP address "${ip}" in "${spec}"`);
    const [clo, chi] = range(ctr, "container port", spec);
    const [hlo, hhi] = hostPort ? range(hostPort, "host port", spec) : [0, 0];
    if (hostPort && hhi - hlo !== chi - clo && chi !== clo) throw new InvalidArgument(`invalid ranges in "${spec}": the host and container ranges differ in size`);
    for (let p = clo; p <= chi; p++) {
      const key = `${p}/${proto}`;
      exposed[key] = {};
      const hp = !hostPort ? "" : chi === clo && hhi !== hlo ? `${hlo}-${hhi}` : String(hlo + (p - clo));
      (bindings[key] ??= [])!.push({ HostIp: ip, HostPort: hp });
    }
  }
  return { exposed, bindings };
}

/** PortBindings (plus every exposed port with PublishAllPorts) → bindings; validated. */
export function bindingsOf(portBindings: PortMap | undefined, exposed: Record<string, unknown> | undefined, publishAll: boolean): Binding[] {
  const out: Binding[] = [];
  const map: PortMap = { ...(portBindings ?? {}) };
  if (publishAll) for (const k of Object.keys(exposed ?? {})) if (!map[k]?.length) map[k] = [{ HostIp: "", HostPort: "" }];
  for (const [key, list] of Object.entries(map)) {
    const m = /^(\d+)(?:\/(tcp|udp))?$/.exec(key);
    if (!m || Number(m[1]) < 1 || Number(m[1]) > 65535) throw new InvalidArgument(`invalid port specification: "${key}"`);
    for (const b of list?.length ? list : [{}]) {
      const ip = b.HostIp || "0.0.0.0";
      if (!isIpv4(ip)) throw new InvalidArgument(`invalid host IP "${ip}" for port ${key}: berth publishes IPv4`);
      const [lo, hi] = b.HostPort ? range(b.HostPort, "host port", `${b.HostPort}:${key}`) : [0, 0];
      out.push({ hostIp: ip, hostPort: lo, ...(hi !== lo ? { hostPortEnd: hi } : {}), containerPort: Number(m[1]), protocol: (m[2] ?? "tcp") as "tcp" | "udp" });
    }
  }
  return out;
}

/** "0.0.0.0:8080->80/tcp, 443/tcp" as docker ps prints it. */
export function portsLine(ports: { IP?: string; PrivatePort: number; PublicPort?: number; Type: string }[]): string {
  return ports.map((p) => (p.PublicPort ? `${p.IP ?? "0.0.0.0"}:${p.PublicPort}->${p.PrivatePort}/${p.Type}` : `${p.PrivatePort}/${p.Type}`)).join(", ");
}
