/**
 * A container's network sandbox: a network namespace bind-mounted at <exec-root>/netns/<id>,
 * made before the runtime creates the container (which joins it by path), with one CNI
 * attachment per network (eth0, eth1, …); lo is brought up by the same command that makes the
 * namespace (what CNI's loopback plugin would do, without another process).
 *
 * What each attachment needs for DEL (the exact list that ran, its runtime config and result) is
 * kept in <exec-root>/network/sandboxes/<id>.json, so teardown works after a daemon restart.
 * Published ports are held by berthd as bound sockets (as docker-proxy holds them): that makes a
 * port taken by anyone else a clear error before the container starts, and keeps it reserved
 * while the container runs. The traffic itself goes through the portmap plugin's DNAT rules,
 * with route_localnet on the bridge so that 127.0.0.1:port reaches the container too.
 */
import { execFile } from "node:child_process";
import { createSocket, type Socket as UdpSocket } from "node:dgram";
import { closeSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { join } from "node:path";
import { promisify } from "node:util";
import { Conflict, FailedPrecondition, InvalidArgument, NotFound, wrap } from "../errdefs.js";
import { writeFileVolatile } from "../fsutil.js";
import { addon } from "../snapshot/sys.js";
import { Cni, type CniResult, type NetworkConfList, type RuntimeConf } from "./cni.js";
import { DnsServer } from "./dns.js";
import { contains, parseIp, parseSubnet } from "./ipnet.js";
import { isPredefined, NetworkStore, type NetworkRecord } from "./networks.js";
import type { Binding } from "./ports.js";

const run = promisify(execFile);

export type PortBinding = Binding;

export interface Endpoint {
  networkId: string;
  networkName: string;
  ifName: string;
  ip: string;
  prefixLen: number;
  gateway: string;
  mac: string;
  aliases: string[];
  list: NetworkConfList;
  rt: RuntimeConf;
  result: CniResult;
}

export interface SandboxRecord {
  containerId: string;
  /** The container's name without the slash, for name resolution. */
  name: string;
  netns: string;
  endpoints: Endpoint[];
  ports: PortBinding[];
}

export interface EndpointRequest {
  aliases?: string[];
  ip?: string;
  /** The interface's MAC address (the bridge plugin's `mac` capability). */
  mac?: string;
}

export interface NetworkManagerOptions {
  store: NetworkStore;
  execRoot: string;
  cniPath: string[];
  /** Where names not on a network are forwarded (default: the host's resolvers). "IP" or "IP:port". */
  dnsForward?: string[];
  log?: (level: "debug" | "info" | "warn" | "error", msg: string) => void;
}

const ISO1 = "BERTH-ISOLATION-1";
const ISO2 = "BERTH-ISOLATION-2";

export class NetworkManager {
  readonly store: NetworkStore;
  readonly cni: Cni;
  private readonly sandboxes = new Map<string, SandboxRecord>();
  private readonly holds = new Map<string, (Server | UdpSocket)[]>();
  /** Sandboxes whose networks are being attached: settles when that ends, however it ends. */
  private readonly attaching = new Map<string, Promise<void>>();
  private readonly tearing = new Map<string, Promise<void>>();
  private readonly dns = new Map<string, DnsServer>();
  private readonly dir: string;

  constructor(private readonly o: NetworkManagerOptions) {
    this.store = o.store;
    this.cni = new Cni({ path: o.cniPath });
    this.dir = join(o.execRoot, "network", "sandboxes");
  }

  /** Loads the sandboxes of the run dir, programs the isolation rules, starts the DNS servers. */
  async init(): Promise<void> {
    mkdirSync(this.dir, { recursive: true });
    mkdirSync(join(this.o.execRoot, "netns"), { recursive: true });
    const def = await this.store.ensureDefault();
    for (const f of readdirSync(this.dir)) {
      if (!f.endsWith(".json")) continue;
      try {
        const s = JSON.parse(readFileSync(join(this.dir, f), "utf8")) as SandboxRecord;
        this.sandboxes.set(s.containerId, s);
      } catch { /* torn: the container's teardown finds nothing to do */ }
    }
    await this.isolate(def).catch((e) => this.log("warn", `isolation rules: ${(e as Error).message}`));
    for (const n of this.store.list()) if (n.Driver === "bridge" && n.Name !== "bridge") await this.isolate(n).catch(() => {});
    for (const s of this.sandboxes.values()) {
      await this.holdPorts(s.containerId, s.ports).catch((e) => this.log("warn", `ports of ${s.containerId}: ${(e as Error).message}`));
      for (const ep of s.endpoints) this.ensureDns(ep.networkId);
    }
  }

  private log(level: "debug" | "info" | "warn" | "error", msg: string): void {
    this.o.log?.(level, msg);
  }

  sandbox(containerId: string): SandboxRecord | undefined {
    return this.sandboxes.get(containerId);
  }

  sandboxIds(): string[] {
    return [...this.sandboxes.keys()];
  }

  /** The network a mode names: default/bridge, a user network, or undefined for host/none/container:. */
  networkFor(mode: string): NetworkRecord | undefined {
    if (mode === "host" || mode === "none" || mode.startsWith("container:")) return undefined;
    const n = this.store.get(mode === "default" ? "bridge" : mode);
    if (n.Driver !== "bridge") return undefined;
    return n;
  }

  /**
   * Makes the sandbox: ports reserved and the netns made, then every network attached. Resolves
   * once the namespace exists, so that a runtime can set up a container in it while its networks
   * are attached (`attached`, the container's address with it). On any failure everything made
   * so far is undone and the error names what failed; a teardown meanwhile waits for the
   * attachments to end first.
   */
  async setup(containerId: string, req: { name: string; networks: { network: NetworkRecord; endpoint: EndpointRequest }[]; ports: PortBinding[] }): Promise<{ netns: string; attached: Promise<SandboxRecord> }> {
    if (this.sandboxes.has(containerId)) await this.teardown(containerId);
    const ports = await this.holdPorts(containerId, req.ports);
    const netns = join(this.o.execRoot, "netns", containerId);
    const s: SandboxRecord = { containerId, name: req.name, netns, endpoints: [], ports };
    try {
      closeSync(openSync(netns, "w"));
      try { addon().makeNetns(netns); } catch (e) { throw wrap(e, "create network namespace"); }
      this.sandboxes.set(containerId, s);
    } catch (e) {
      await this.teardown(containerId).catch(() => {});
      throw e;
    }
    const work = (async () => {
      for (const [i, n] of req.networks.entries()) await this.attach(s, n.network, n.endpoint, `eth${i}`, i === 0 ? ports : []);
      await this.save(s);
    })();
    const settled = work.then(() => undefined, () => undefined);
    this.attaching.set(containerId, settled);
    void settled.then(() => { if (this.attaching.get(containerId) === settled) this.attaching.delete(containerId); });
    const attached = work.then(() => s, async (e: unknown) => {
      await this.teardown(containerId).catch(() => {});
      throw e;
    });
    return { netns, attached };
  }

  /** docker network connect of a running container: the next free ethN. */
  async connect(containerId: string, network: NetworkRecord, endpoint: EndpointRequest): Promise<Endpoint> {
    const s = this.sandboxes.get(containerId);
    if (!s) throw new FailedPrecondition("container is not running on a bridge network (connect works on running containers with their own network namespace)");
    if (s.endpoints.some((e) => e.networkId === network.Id)) throw new Conflict(`endpoint with name ${s.name} already exists in network ${network.Name}`);
    let i = 0;
    while (s.endpoints.some((e) => e.ifName === `eth${i}`)) i++;
    const ep = await this.attach(s, network, endpoint, `eth${i}`, []);
    await this.save(s);
    return ep;
  }

  async disconnect(containerId: string, network: NetworkRecord): Promise<void> {
    const s = this.sandboxes.get(containerId);
    const ep = s?.endpoints.find((e) => e.networkId === network.Id);
    if (!s || !ep) throw new NotFound(`container ${containerId.slice(0, 12)} is not connected to network ${network.Name}`);
    await this.cni.del(ep.list, ep.rt, ep.result);
    s.endpoints = s.endpoints.filter((e) => e !== ep);
    await this.save(s);
  }

  private async attach(s: SandboxRecord, n: NetworkRecord, want: EndpointRequest, ifName: string, ports: PortBinding[]): Promise<Endpoint> {
    const cfg = n.IPAM.Config[0]!;
    const args: Record<string, string> = {};
    if (want.ip) {
      const subnet = parseSubnet(cfg.Subnet);
      if (!contains(subnet, parseIp(want.ip))) throw new InvalidArgument(`no configured subnet contains IP address ${want.ip} (network ${n.Name} has ${cfg.Subnet})`);
      if (isPredefined(n.Name)) throw new InvalidArgument("user specified IP address is supported on user defined networks only");
      args.IP = want.ip;
    }
    const list = this.store.confList(n, ports.length > 0);
    const rt: RuntimeConf = {
      containerId: s.containerId, netns: s.netns, ifName, args,
      capabilityArgs: {
        ...(ports.length ? { portMappings: ports.map((p) => ({ hostPort: p.hostPort, containerPort: p.containerPort, protocol: p.protocol, ...(p.hostIp !== "0.0.0.0" ? { hostIP: p.hostIp } : {}) })) } : {}),
        ...(want.mac ? { mac: want.mac } : {}),
      },
    };
    const result = await this.cni.add(list, rt);
    const ip = result.ips?.[0];
    const iface = result.interfaces?.find((x) => x.name === ifName && x.sandbox);
    const ep: Endpoint = {
      networkId: n.Id, networkName: n.Name, ifName, ip: ip?.address.split("/")[0] ?? "", prefixLen: Number(ip?.address.split("/")[1] ?? 0),
      gateway: ip?.gateway ?? "", mac: iface?.mac ?? "", aliases: want.aliases ?? [], list, rt, result,
    };
    s.endpoints.push(ep);
    if (ports.length) await this.localhostPublishing(this.store.bridgeOf(n));
    this.ensureDns(n.Id);
    return ep;
  }

  /**
   * Undoes the sandbox (idempotent): netns unmounted, CNI DEL of every attachment, ports released.
   * The netns goes first unless another container still runs in it (`shared`: container:<x>
   * network mode). The plugins then find no namespace: they release the address (and rules) and
   * leave the veth pair to the kernel, which removes both ends with the namespace, off this path —
   * teardown 34–38 → 10 ms here, and the host end gone 17–19 ms after it began (a throwaway probe
   * on a private bridge, medians of 10), where the bridge plugin's own link delete waits out the
   * kernel's unregistration. A shared namespace keeps docker's behaviour: its interfaces are
   * deleted, and the container that joined it loses them. One teardown runs at a time per
   * sandbox (a second call gets the first's promise), after any attachment still in flight.
   */
  teardown(containerId: string, o: { shared?: boolean } = {}): Promise<void> {
    let t = this.tearing.get(containerId);
    if (!t) {
      t = this.teardownNow(containerId, o).finally(() => this.tearing.delete(containerId));
      this.tearing.set(containerId, t);
    }
    return t;
  }

  private async teardownNow(containerId: string, o: { shared?: boolean }): Promise<void> {
    await this.attaching.get(containerId);
    const s = this.sandboxes.get(containerId);
    for (const h of this.holds.get(containerId) ?? []) h.close();
    this.holds.delete(containerId);
    if (!s) return;
    const dropNetns = (): void => {
      try { addon().umount2(s.netns, addon().constants.MNT_DETACH); } catch { /* not mounted */ }
      rmSync(s.netns, { force: true });
    };
    if (!o.shared) dropNetns();
    let first: unknown;
    for (const ep of [...s.endpoints].reverse()) {
      try { await this.cni.del(ep.list, ep.rt, ep.result); } catch (e) { first ??= e; this.log("warn", `network teardown of ${containerId}: ${(e as Error).message}`); }
    }
    dropNetns();
    rmSync(join(this.dir, `${containerId}.json`), { force: true });
    this.sandboxes.delete(containerId);
    if (first) throw first;
  }

  /** Names on a network for its DNS server: container name, aliases and short id → address. */
  names(networkId: string): Map<string, string> {
    const out = new Map<string, string>();
    for (const s of this.sandboxes.values()) {
      for (const ep of s.endpoints) {
        if (ep.networkId !== networkId || !ep.ip) continue;
        for (const n of [s.name, s.containerId.slice(0, 12), ...ep.aliases]) out.set(n.toLowerCase(), ep.ip);
      }
    }
    return out;
  }

  /** Containers attached to a network (docker's inspect "Containers"). */
  attached(networkId: string): { id: string; name: string; ep: Endpoint }[] {
    return [...this.sandboxes.values()].flatMap((s) => s.endpoints.filter((e) => e.networkId === networkId).map((ep) => ({ id: s.containerId, name: s.name, ep })));
  }

  /** Removes a user network: refused while containers use it; its bridge, rules and leases go too. */
  async removeNetwork(ref: string, usedBy: (n: NetworkRecord) => string[]): Promise<NetworkRecord> {
    const n = this.store.get(ref);
    if (isPredefined(n.Name)) throw new Conflict(`${n.Name} is a pre-defined network and cannot be removed`);
    const users = [...new Set([...this.attached(n.Id).map((a) => a.name), ...usedBy(n)])];
    if (users.length) throw new Conflict(`error while removing network: network ${n.Name} id ${n.Id} has active endpoints (${users.join(", ")})`);
    this.dns.get(n.Id)?.close();
    this.dns.delete(n.Id);
    await this.isolate(n, true).catch(() => {});
    await run("ip", ["link", "del", this.store.bridgeOf(n)]).catch(() => {});
    rmSync(join(this.store.ipamDir(), this.store.confList(n, false).name), { recursive: true, force: true });
    this.store.remove(n.Id);
    return n;
  }

  async createNetwork(req: Parameters<NetworkStore["create"]>[0]): Promise<NetworkRecord> {
    const n = await this.store.create(req);
    try {
      await this.isolate(n);
    } catch (e) {
      this.store.remove(n.Id);
      throw wrap(e, "program isolation rules");
    }
    return n;
  }

  close(): void {
    for (const d of this.dns.values()) d.close();
    this.dns.clear();
    for (const hs of this.holds.values()) for (const h of hs) h.close();
    this.holds.clear();
  }

  // ---- ports --------------------------------------------------------------------------------

  /** Binds every published port (a free one where none was asked); a taken port is a Conflict. */
  private async holdPorts(containerId: string, ports: PortBinding[]): Promise<PortBinding[]> {
    const held: (Server | UdpSocket)[] = [];
    const out: PortBinding[] = [];
    try {
      for (const p of ports) {
        // A host range for one container port: the first free port of it, as docker does.
        let got: { sock: Server | UdpSocket; port: number } | undefined;
        for (let hp = p.hostPort; !got; hp++) {
          try { got = await bindPort({ ...p, hostPort: hp }); } catch (e) { if (!p.hostPortEnd || hp >= p.hostPortEnd || !(e instanceof Conflict)) throw e; }
        }
        held.push(got.sock);
        out.push({ hostIp: p.hostIp, hostPort: got.port, containerPort: p.containerPort, protocol: p.protocol });
      }
    } catch (e) {
      for (const h of held) h.close();
      throw e;
    }
    this.holds.set(containerId, [...(this.holds.get(containerId) ?? []), ...held]);
    return out;
  }

  /** 127.0.0.1:port → container: the kernel routes DNATed loopback traffic only with route_localnet. */
  private async localhostPublishing(bridge: string): Promise<void> {
    try {
      const { writeFileSync } = await import("node:fs");
      writeFileSync(`/proc/sys/net/ipv4/conf/${bridge}/route_localnet`, "1");
    } catch (e) {
      this.log("warn", `route_localnet on ${bridge}: ${(e as Error).message}: published ports will not answer on 127.0.0.1`);
    }
  }

  // ---- isolation between networks ------------------------------------------------------------

  /**
   * docker's two-stage isolation: traffic leaving a berth bridge for another interface goes to
   * stage 2, which drops it when that interface is another berth bridge. Internal networks also
   * drop everything that enters or leaves them through the host; the others get one masquerade
   * rule for traffic leaving the host.
   */
  private async isolate(n: NetworkRecord, remove = false): Promise<void> {
    const br = this.store.bridgeOf(n);
    await ensureChains();
    const subnet = n.IPAM.Config[0]!.Subnet;
    const rules: [string, string[]][] = [
      [ISO1, ["-i", br, "!", "-o", br, "-j", ISO2]],
      [ISO2, ["-o", br, "-j", "DROP"]],
      ...(n.Internal
        ? ([[ISO1, ["-i", br, "!", "-o", br, "-j", "DROP"]], [ISO1, ["-o", br, "!", "-i", br, "-j", "DROP"]]] as [string, string[]][])
        // Outbound traffic masqueraded once per network, as docker's rule for docker0 (not per container).
        : ([["nat:POSTROUTING", ["-s", subnet, "!", "-o", br, "-j", "MASQUERADE"]]] as [string, string[]][])),
    ];
    for (const [where, rule] of rules) {
      const [table, chain] = where.includes(":") ? where.split(":") as [string, string] : ["filter", where];
      const present = await iptables(["-t", table, "-C", chain, ...rule]).then(() => true, () => false);
      if (remove && present) await iptables(["-t", table, "-D", chain, ...rule]);
      if (!remove && !present) await iptables(["-t", table, "-I", chain, "1", ...rule]);
    }
  }

  // ---- DNS ------------------------------------------------------------------------------------

  /** User networks get berth's DNS server on their gateway address (the default bridge does not, as in docker). */
  private ensureDns(networkId: string): void {
    if (this.dns.has(networkId)) return;
    let n: NetworkRecord;
    try { n = this.store.get(networkId); } catch { return; }
    if (isPredefined(n.Name)) return;
    const cfg = n.IPAM.Config[0]!;
    const server = new DnsServer({
      address: cfg.Gateway, subnet: parseSubnet(cfg.Subnet), lookup: (name) => this.names(n.Id).get(name),
      upstream: this.upstreams(), log: (m) => this.log("warn", `dns on ${n.Name}: ${m}`),
    });
    this.dns.set(networkId, server);
    server.start().catch((e) => {
      this.log("warn", `dns on ${n.Name} (${cfg.Gateway}:53): ${(e as Error).message}`);
      if (this.dns.get(networkId) === server) this.dns.delete(networkId);
    });
  }

  /** The resolv.conf nameserver for a container whose first network is `n`, or undefined for docker's default rule. */
  nameserverFor(n: NetworkRecord): string | undefined {
    return isPredefined(n.Name) ? undefined : n.IPAM.Config[0]!.Gateway;
  }

  private upstreams(): { host: string; port: number }[] {
    const list = this.o.dnsForward?.length ? this.o.dnsForward : hostResolvers();
    return list.map((a) => {
      const m = /^(.*?)(?::(\d+))?$/.exec(a)!;
      return { host: m[1]!, port: m[2] ? Number(m[2]) : 53 };
    });
  }

  private async save(s: SandboxRecord): Promise<void> {
    // Under the exec root: needed after a berthd restart, not after a reboot.
    writeFileVolatile(join(this.dir, `${s.containerId}.json`), JSON.stringify(s));
  }
}

function hostResolvers(): string[] {
  try {
    return readFileSync("/etc/resolv.conf", "utf8").split("\n").map((l) => /^\s*nameserver\s+(\S+)/.exec(l)?.[1]).filter((x): x is string => !!x && !x.includes(":"));
  } catch {
    return [];
  }
}

async function iptables(args: string[]): Promise<void> {
  await run("iptables", ["-w", "5", ...args]);
}

/** berth's two chains, and FORWARD's first rule jumping to stage 1. */
async function ensureChains(): Promise<void> {
  for (const c of [ISO1, ISO2]) await iptables(["-N", c]).catch(() => { /* exists */ });
  if (!(await iptables(["-C", "FORWARD", "-j", ISO1]).then(() => true, () => false))) await iptables(["-I", "FORWARD", "1", "-j", ISO1]);
}

/** Binds a published port on the host (port 0: the kernel picks a free one). */
function bindPort(p: PortBinding): Promise<{ sock: Server | UdpSocket; port: number }> {
  const taken = (e: Error): Error =>
    (e as NodeJS.ErrnoException).code === "EADDRINUSE"
      ? new Conflict(`driver failed programming external connectivity: Bind for ${p.hostIp}:${p.hostPort} failed: port is already allocated`)
      : (e as NodeJS.ErrnoException).code === "EADDRNOTAVAIL"
        ? new InvalidArgument(`cannot publish on ${p.hostIp}: it is not an address of this host`)
        : e;
  return new Promise((resolve, reject) => {
    if (p.protocol === "udp") {
      const s = createSocket("udp4");
      s.once("error", (e) => reject(taken(e)));
      s.bind({ address: p.hostIp, port: p.hostPort, exclusive: true }, () => { s.unref(); resolve({ sock: s, port: s.address().port }); });
      return;
    }
    // Connections never reach this socket (DNAT sends them to the container); any that do are closed.
    const srv = createServer((c) => c.destroy());
    srv.once("error", (e) => reject(taken(e)));
    srv.listen({ host: p.hostIp, port: p.hostPort, exclusive: true, backlog: 1 }, () => {
      srv.unref();
      resolve({ sock: srv, port: (srv.address() as { port: number }).port });
    });
  });
}

