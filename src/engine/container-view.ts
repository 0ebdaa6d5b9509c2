/** docker's JSON views of a container: inspect, the `ps` summary, and the human status line. */
import type { ContainerRecord } from "./container-store.js";

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

/** "Up 3 seconds", "Up 2 minutes (Paused)", "Exited (0) 5 seconds ago", "Created". */
export function statusLine(c: ContainerRecord): string {
  const s = c.State;
  if (s.Status === "running") return `Up ${ago(s.StartedAt)}`;
  if (s.Status === "paused") return `Up ${ago(s.StartedAt)} (Paused)`;
  if (s.Status === "restarting") return `Restarting (${s.ExitCode}) ${ago(s.FinishedAt)} ago`;
  if (s.Status === "exited") return `Exited (${s.ExitCode}) ${ago(s.FinishedAt)} ago`;
  if (s.Status === "dead") return "Dead";
  if (s.Status === "removing") return "Removal In Progress";
  return "Created";
}

export function commandString(c: ContainerRecord): string {
  const quote = (a: string): string => (/[\s"'$]/.test(a) ? JSON.stringify(a) : a);
  return [c.Path, ...c.Args].map(quote).join(" ");
}

export function inspectView(c: ContainerRecord, extra: { execIds?: string[]; rootfs?: string; networkSettings?: Record<string, unknown> } = {}): Record<string, unknown> {
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
    NetworkSettings: extra.networkSettings ?? networkSettings(c),
  };
}

export function networkSettings(c: ContainerRecord): Record<string, unknown> {
  const mode = (c.HostConfig.NetworkMode as string | undefined) ?? "default";
  const name = mode === "default" ? "none" : mode;
  return {
    Bridge: "", SandboxID: "", SandboxKey: c.State.Pid ? `/proc/${c.State.Pid}/ns/net` : "", Ports: {},
    HairpinMode: false, LinkLocalIPv6Address: "", LinkLocalIPv6PrefixLen: 0, SecondaryIPAddresses: null, SecondaryIPv6Addresses: null,
    EndpointID: "", Gateway: "", GlobalIPv6Address: "", GlobalIPv6PrefixLen: 0, IPAddress: "", IPPrefixLen: 0, IPv6Gateway: "", MacAddress: "",
    Networks: { [name]: { IPAMConfig: null, Links: null, Aliases: null, NetworkID: name, EndpointID: "", Gateway: "", IPAddress: "", IPPrefixLen: 0, IPv6Gateway: "", GlobalIPv6Address: "", GlobalIPv6PrefixLen: 0, MacAddress: "", DriverOpts: null } },
  };
}

export function summaryView(c: ContainerRecord): Record<string, unknown> {
  const mode = (c.HostConfig.NetworkMode as string | undefined) ?? "default";
  return {
    Id: c.Id,
    Names: [c.Name],
    Image: c.ImageName,
    ImageID: c.Image,
    Command: commandString(c),
    Created: Math.floor(Date.parse(c.Created) / 1000),
    Ports: [],
    Labels: (c.Config.Labels as Record<string, string> | undefined) ?? {},
    State: c.State.Status,
    Status: statusLine(c),
    HostConfig: { NetworkMode: mode },
    NetworkSettings: { Networks: (networkSettings(c).Networks as Record<string, unknown>) },
    Mounts: c.MountPoints.map((m) => ({ ...m })),
  };
}
