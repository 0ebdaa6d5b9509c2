/** `berth network …` and `berth port`: docker's network commands over berthd's /networks API. */
import { b, bool, filterFlags, l, list, needArgs, parseArgs, s, str } from "./args.js";
import type { Client } from "./client.js";
import { CliError, each, ExitCode } from "./errors.js";
import { printRows } from "./format.js";

type Cmd = (c: Client, argv: string[]) => Promise<void>;

const keyValues = (flag: string, xs: string[]): Record<string, string> =>
  Object.fromEntries(xs.map((x) => {
    const i = x.indexOf("=");
    if (i < 0 && flag === "--opt") throw new CliError(`invalid argument "${x}" for "${flag}" flag: expected key=value`);
    return i < 0 ? [x, ""] : [x.slice(0, i), x.slice(i + 1)];
  }));


export const network: Cmd = async (c, argv) => {
  const [sub = "", ...rest] = argv;
  switch (sub) {
    case "create": {
      const p = parseArgs("network create", rest, [s("driver", "d"), s("subnet"), s("gateway"), s("ip-range"), b("internal"), l("label"), l("opt", "o"), b("attachable"), b("ipv6")]);
      needArgs("network create", p, 1, 1);
      if (bool(p, "ipv6")) throw new CliError("berth networks are IPv4 only: --ipv6 is not supported");
      const cfg = str(p, "subnet") || str(p, "gateway") || str(p, "ip-range")
        ? [{ Subnet: str(p, "subnet"), Gateway: str(p, "gateway"), IPRange: str(p, "ip-range") }] : [];
      const r = await c.json("POST", "/networks/create", {
        body: { Name: p.args[0], Driver: str(p, "driver") ?? "bridge", Internal: bool(p, "internal"), Attachable: bool(p, "attachable"), Labels: keyValues("--label", list(p, "label")), Options: keyValues("--opt", list(p, "opt")), IPAM: { Driver: "default", Config: cfg } },
      });
      process.stdout.write(`${r.Id}\n`);
      return;
    }
    case "ls": case "list": {
      const p = parseArgs("network ls", rest, [b("quiet", "q"), s("format"), l("filter", "f"), b("no-trunc")]);
      const r = await c.json<any[]>("GET", "/networks", { query: { filters: filterFlags(p) } });
      const trunc = !bool(p, "no-trunc");
      const rows = r.map((n) => ({ ID: trunc ? n.Id.slice(0, 12) : n.Id, Name: n.Name, Driver: n.Driver, Scope: n.Scope, Internal: String(n.Internal), Labels: Object.entries(n.Labels ?? {}).map(([k, v]) => `${k}=${v}`).join(",") }));
      if (bool(p, "quiet")) { for (const n of rows) process.stdout.write(`${n.ID}\n`); return; }
      printRows(rows, str(p, "format"), { header: ["NETWORK ID", "NAME", "DRIVER", "SCOPE"], cells: (n) => [n.ID, n.Name, n.Driver, n.Scope].map(String) });
      return;
    }
    case "inspect": {
      const p = parseArgs("network inspect", rest, [s("format", "f"), b("verbose", "v")]);
      needArgs("network inspect", p, 1);
      const out: unknown[] = [];
      await each(p.args, async (n) => { out.push(await c.json("GET", `/networks/${encodeURIComponent(n)}`)); }, false);
      if (str(p, "format")) { const { template } = await import("./format.js"); for (const v of out) process.stdout.write(`${template(str(p, "format")!).render(v)}\n`); }
      else process.stdout.write(`${JSON.stringify(out, null, 4)}\n`);
      if (out.length < p.args.length) throw new ExitCode(1);
      return;
    }
    case "rm": case "remove": {
      const p = parseArgs("network rm", rest, [b("force", "f")]);
      needArgs("network rm", p, 1);
      await each(p.args, (n) => c.json("DELETE", `/networks/${encodeURIComponent(n)}`));
      return;
    }
    case "prune": {
      const p = parseArgs("network prune", rest, [b("force", "f"), l("filter")]);
      const r = await c.json("POST", "/networks/prune", { query: { filters: filterFlags(p) } });
      if (r.NetworksDeleted?.length) process.stdout.write(`Deleted Networks:\n${r.NetworksDeleted.join("\n")}\n\n`);
      return;
    }
    case "connect": {
      const p = parseArgs("network connect", rest, [l("alias"), s("ip"), s("ip6"), l("link"), l("link-local-ip"), l("driver-opt")]);
      needArgs("network connect", p, 2, 2);
      const ip = str(p, "ip"), ip6 = str(p, "ip6"), local = list(p, "link-local-ip");
      const opts = Object.fromEntries(list(p, "driver-opt").map((o) => [o.split("=")[0]!, o.split("=").slice(1).join("=")]));
      // Everything docker's CLI would send goes to berthd, which refuses what its networks lack.
      await c.json("POST", `/networks/${encodeURIComponent(p.args[0]!)}/connect`, {
        body: { Container: p.args[1], EndpointConfig: {
          Aliases: list(p, "alias"), Links: list(p, "link"), DriverOpts: opts,
          ...(ip || ip6 || local.length ? { IPAMConfig: { IPv4Address: ip, IPv6Address: ip6, LinkLocalIPs: local } } : {}),
        } },
      });
      return;
    }
    case "disconnect": {
      const p = parseArgs("network disconnect", rest, [b("force", "f")]);
      needArgs("network disconnect", p, 2, 2);
      await c.json("POST", `/networks/${encodeURIComponent(p.args[0]!)}/disconnect`, { body: { Container: p.args[1], Force: bool(p, "force") } });
      return;
    }
    default:
      throw new CliError(sub ? `berth network: unknown command "${sub}"\nSee 'berth network --help'.` : "Usage:  berth network COMMAND (create, ls, inspect, rm, prune, connect, disconnect)");
  }
};

/** docker port CONTAINER [PRIVATE_PORT[/PROTO]]. */
export const port: Cmd = async (c, argv) => {
  const p = parseArgs("port", argv, []);
  needArgs("port", p, 1, 2);
  const info = await c.json("GET", `/containers/${encodeURIComponent(p.args[0]!)}/json`);
  const ports = (info.NetworkSettings?.Ports ?? {}) as Record<string, { HostIp: string; HostPort: string }[] | null>;
  const want = p.args[1];
  if (want) {
    const key = want.includes("/") ? want : `${want}/tcp`;
    if (!/^\d+\/(tcp|udp)$/.test(key)) throw new CliError(`Error: invalid port ${want}: expected PORT[/PROTO]`, 1);
    const list = ports[key];
    if (!list?.length) throw new CliError(`Error: No public port '${key}' published for ${p.args[0]}`, 1);
    for (const b of list) process.stdout.write(`${b.HostIp}:${b.HostPort}\n`);
    return;
  }
  for (const [k, list] of Object.entries(ports)) for (const b of list ?? []) process.stdout.write(`${k} -> ${b.HostIp}:${b.HostPort}\n`);
};
