/** docker's JSON views of a container: inspect, the `ps` summary, and the human status line. */
import { createHash } from "node:crypto";
import type { SandboxRecord } from "../network/manager.js";
import type { ContainerRecord } from "./container-store.js";
import { healthSuffix } from "./health.js";

function ago(iso: string): string {
  const s = Math.max(0, (Date.now() - Date.parse(iso)) / 1000);
  if (s < 1) return "Less than a second";
  if (s < 60) return `${Math.floor(s)} second${Math.floor(s) === 1 ? "" : "s"}`;
  const m = s / 60;
  if (m < 60) return Math.round(m) <= 1 ? "About a minute" : `${Math.round(m)} minutes`;
  const h = m / 60;
  if (h < 48) return Math.round(h) <= 1 ? "About an hour" : `${Math.round(h)} hours`;
  const d = h / 24;
  if (d < 14) return `${Math.round(d)} days`;
  if (d < 60) return `${Math.round(d / 7)} weeks`;
  if (d < 730) return `${Math.round(d / 30)} months`;
  return `${Math.round(d / 365)} years`;
}

/** "Up 3 seconds", "Up 1 minute (healthy)", "Up 2 minutes (Paused)", "Exited (0) 5 seconds ago", "Created". */
export function statusLine(c: ContainerRecord): string {
  const s = c.State;
  if (s.Status === "running") return `Up ${ago(s.StartedAt)}${healthSuffix(s.Health)}`;
  if (s.Status === "paused") return `Up ${ago(s.StartedAt)} (Paused)`;
  if (s.Status === "restarting") return `Restarting (${s.ExitCode}) ${ago(s.FinishedAt)} ago`;
  if (s.Status === "exited") return `Exited (${s.ExitCode}) ${ago(s.FinishedAt)} ago`;
  if (s.Status === "dead") return "Dead";
  if (s.Status === "removing") return "Removal In Progress";
  return "Created";
}

/** The Command of `ps`, as dockerd writes it: the path, then the arguments, those with a space in single quotes. */
export function commandString(c: ContainerRecord): string {
  return [c.Path, ...c.Args.map((a) => (a.includes(" ") ? `'${a}'` : a))].join(" ");
}

export function inspectView(c: ContainerRecord, extra: { execIds?: string[]; rootfs?: string; sandbox?: SandboxRecord } = {}): Record<string, unknown> {
  return {
    Id: c.Id,
    Created: c.Created,
    Path: c.Path,
    Args: c.Args,
    State: { ...c.State },
    Image: c.Image,
    ResolvConfPath: c.ResolvConfPath,
    HostnamePath: c.HostnamePath,
    HostsPath: c.HostsPath,
    LogPath: c.LogPath,
    Name: c.Name,
    RestartCount: c.RestartCount,
    Driver: "overlay2",
    Platform: "linux",
    MountLabel: "",
    ProcessLabel: "",
    AppArmorProfile: "",
    ExecIDs: extra.execIds?.length ? extra.execIds : null,
    HostConfig: c.HostConfig,
    GraphDriver: { Name: "overlay2", Data: extra.rootfs ? { MergedDir: extra.rootfs } : null },
    Mounts: c.MountPoints,
    Config: c.Config,
    NetworkSettings: networkSettings(c, extra.sandbox),
  };
}

/** NetworkSettings from the container's sandbox (addresses exist only while it runs, as in docker). */
export function networkSettings(c: ContainerRecord, sb?: SandboxRecord): Record<string, unknown> {
  const mode = (c.HostConfig.NetworkMode as string | undefined) || "default";
  const ports: Record<string, { HostIp: string; HostPort: string }[] | null> = {};
  if (sb) {
    for (const k of Object.keys((c.Config.ExposedPorts as Record<string, unknown> | null) ?? {})) ports[k] = null;
    for (const p of sb.ports) (ports[`${p.containerPort}/${p.protocol}`] ??= [])!.push({ HostIp: p.hostIp, HostPort: String(p.hostPort) });
  }
  const blank = { IPAMConfig: null, Links: null, Aliases: null, MacAddress: "", NetworkID: "", EndpointID: "", Gateway: "", IPAddress: "", IPPrefixLen: 0, IPv6Gateway: "", GlobalIPv6Address: "", GlobalIPv6PrefixLen: 0, DriverOpts: null, DNSNames: null };
  const networks: Record<string, unknown> = {};
  for (const ep of sb?.endpoints ?? []) {
    const want = c.EndpointsConfig?.[ep.networkName];
    networks[ep.networkName] = {
      ...blank, IPAMConfig: want?.IPAMConfig ?? null, Aliases: ep.aliases.length ? ep.aliases : null, MacAddress: ep.mac, NetworkID: ep.networkId,
      EndpointID: endpointId(c.Id, ep.networkId), Gateway: ep.gateway, IPAddress: ep.ip, IPPrefixLen: ep.prefixLen,
      DNSNames: ep.networkName === "bridge" ? null : [c.Name.slice(1), c.Id.slice(0, 12), ...ep.aliases],
    };
  }
  if (!sb) {
    const name = mode === "default" ? "bridge" : mode.startsWith("container:") ? undefined : mode;
    if (name) networks[name] = blank;
    for (const k of Object.keys(c.EndpointsConfig ?? {})) if (!(k in networks) && k !== mode) networks[k] = blank;
  }
  // The top-level fields describe the default bridge only, as docker's do.
  const def = sb?.endpoints.find((e) => e.networkName === "bridge");
  return {
    Bridge: "", SandboxID: sb ? c.Id : "", SandboxKey: sb?.netns ?? (c.State.Pid ? `/proc/${c.State.Pid}/ns/net` : ""), Ports: ports,
    HairpinMode: false, LinkLocalIPv6Address: "", LinkLocalIPv6PrefixLen: 0, SecondaryIPAddresses: null, SecondaryIPv6Addresses: null,
    EndpointID: def ? endpointId(c.Id, def.networkId) : "", Gateway: def?.gateway ?? "", GlobalIPv6Address: "", GlobalIPv6PrefixLen: 0,
    IPAddress: def?.ip ?? "", IPPrefixLen: def?.prefixLen ?? 0, IPv6Gateway: "", MacAddress: def?.mac ?? "",
    Networks: networks,
  };
}

/** A stable endpoint id: one container on one network. */
export function endpointId(containerId: string, networkId: string): string {
  return createHash("sha256").update(`${containerId}/${networkId}`).digest("hex");
}

/** docker's ps Ports: published bindings, then exposed ports that are not published. */
export function summaryPorts(c: ContainerRecord, sb?: SandboxRecord): { IP?: string; PrivatePort: number; PublicPort?: number; Type: string }[] {
  const out: { IP?: string; PrivatePort: number; PublicPort?: number; Type: string }[] = [];
  for (const p of sb?.ports ?? []) out.push({ IP: p.hostIp, PrivatePort: p.containerPort, PublicPort: p.hostPort, Type: p.protocol });
  for (const k of Object.keys((c.Config.ExposedPorts as Record<string, unknown> | null) ?? {})) {
    const [port, type = "tcp"] = k.split("/");
    if (!out.some((o) => o.PrivatePort === Number(port) && o.Type === type)) out.push({ PrivatePort: Number(port), Type: type });
  }
  return out;
}

export function summaryView(c: ContainerRecord, sb?: SandboxRecord): Record<string, unknown> {
  const mode = (c.HostConfig.NetworkMode as string | undefined) ?? "default";
  return {
    Id: c.Id,
    Names: [c.Name],
    Image: c.ImageName,
    ImageID: c.Image,
    Command: commandString(c),
    Created: Math.floor(Date.parse(c.Created) / 1000),
    Ports: summaryPorts(c, sb),
    Labels: (c.Config.Labels as Record<string, string> | undefined) ?? {},
    State: c.State.Status,
    Status: statusLine(c),
    HostConfig: { NetworkMode: mode },
    NetworkSettings: { Networks: (networkSettings(c, sb).Networks as Record<string, unknown>) },
    Mounts: c.MountPoints.map((m) => ({ ...m })),
  };
}
