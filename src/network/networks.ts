/**
 * Networks as docker shows them: the built-in `bridge` (berth's default, interface berth0),
 * `host` and `none`, and user-defined bridge networks. Each bridge network is a CNI configuration
 * list that berth writes itself (bridge + host-local IPAM, then portmap when ports are published);
 * masquerading is one rule per network (manager.ts), not a chain per container.
 * Records live under <data-root>/network/<id>.json; subnets are chosen so that they collide with
 * no route of the host and no other network.
 */
import { createHash, randomBytes } from "node:crypto";
import { mkdirSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { Conflict, InvalidArgument, NotFound } from "../errdefs.js";
import { writeFileAtomic } from "../fsutil.js";
import { CNI_VERSION, type NetworkConfList, type PluginConf } from "./cni.js";
import { contains, formatIp, formatSubnet, hostRoutes, overlaps, parseIp, parseSubnet, type Subnet } from "./ipnet.js";

export interface NetworkRecord {
  Name: string;
  Id: string;
  Created: string;
  Scope: "local";
  Driver: "bridge" | "host" | "null";
  EnableIPv6: false;
  IPAM: { Driver: "default"; Options: Record<string, string> | null; Config: { Subnet: string; Gateway: string; IPRange?: string }[] };
  Internal: boolean;
  Attachable: boolean;
  Ingress: false;
  ConfigFrom: { Network: string };
  ConfigOnly: false;
  Options: Record<string, string>;
  Labels: Record<string, string>;
}

export interface NetworkStoreOptions {
  dataRoot: string;
  execRoot: string;
  /** dockerd's --bip: the default bridge's gateway address with its prefix, e.g. 10.88.0.1/16. */
  bip?: string;
  /** dockerd's --default-address-pool base=CIDR,size=N: where user networks' subnets come from. */
  addressPool?: { base: string; size: number };
  mtu?: number;
  /** dockerd's --bridge: the default network's interface. */
  bridge?: string;
}

export const DEFAULT_BRIDGE = "berth0";
const BRIDGE_OPT = "com.docker.network.bridge.name";
const MTU_OPT = "com.docker.network.driver.mtu";
/** Where the default network's subnet is taken from when --bip is not given (the first free /16). */
const DEFAULT_CANDIDATES = ["10.88.0.0/16", "10.87.0.0/16", "10.86.0.0/16", "172.30.0.0/16", "172.29.0.0/16"];
const DEFAULT_POOL = { base: "10.89.0.0/16", size: 24 };

const builtinId = (name: string): string => createHash("sha256").update(`berth-network-${name}`).digest("hex");

export class NetworkStore {
  private readonly dir: string;
  private readonly byId = new Map<string, NetworkRecord>();

  constructor(private readonly o: NetworkStoreOptions) {
    this.dir = join(o.dataRoot, "network");
    mkdirSync(this.dir, { recursive: true });
    for (const f of readdirSync(this.dir)) {
      if (!f.endsWith(".json")) continue;
      try {
        const r = JSON.parse(readFileSync(join(this.dir, f), "utf8")) as NetworkRecord;
        this.byId.set(r.Id, r);
      } catch { /* a torn file: ignored */ }
    }
    for (const name of ["host", "none"]) {
      this.byId.set(builtinId(name), {
        ...blank(name, builtinId(name)), Driver: name === "host" ? "host" : "null", Created: new Date(0).toISOString(),
      });
    }
  }

  /** Creates (or, for a changed --bip, updates) the default bridge network's record. */
  async ensureDefault(): Promise<NetworkRecord> {
    const cur = this.list().find((n) => n.Name === "bridge");
    const bridge = this.o.bridge ?? DEFAULT_BRIDGE;
    let subnet: string;
    let gateway: string;
    if (this.o.bip) {
      const s = parseSubnet(this.o.bip, false);
      if (s.ip === s.base) throw new InvalidArgument(`--bip ${this.o.bip}: give the bridge's own address with a prefix, e.g. 10.88.0.1/16`);
      subnet = formatSubnet(s);
      gateway = formatIp(s.ip);
    } else if (cur && this.bridgeOf(cur) === bridge) {
      return cur;
    } else {
      const taken = this.takenSubnets();
      const pick = DEFAULT_CANDIDATES.map((c) => parseSubnet(c)).find((c) => !taken.some((t) => overlaps(t, c)));
      if (!pick) throw new Conflict(`no free subnet for the default bridge among ${DEFAULT_CANDIDATES.join(", ")}: give one with --bip`);
      subnet = formatSubnet(pick);
      gateway = formatIp(pick.base + 1);
    }
    if (cur && cur.IPAM.Config[0]?.Subnet === subnet && cur.IPAM.Config[0]?.Gateway === gateway && this.bridgeOf(cur) === bridge) return cur;
    const rec: NetworkRecord = {
      ...blank("bridge", cur?.Id ?? builtinId("bridge")), Driver: "bridge",
      IPAM: { Driver: "default", Options: null, Config: [{ Subnet: subnet, Gateway: gateway }] },
      Options: { [BRIDGE_OPT]: bridge, "com.docker.network.bridge.default_bridge": "true", "com.docker.network.bridge.enable_ip_masquerade": "true", ...(this.o.mtu ? { [MTU_OPT]: String(this.o.mtu) } : {}) },
    };
    await this.save(rec);
    return rec;
  }

  list(): NetworkRecord[] {
    return [...this.byId.values()].sort((a, b) => a.Name.localeCompare(b.Name));
  }

  /** By full name, full id or unique id prefix, as docker resolves network references. */
  get(ref: string): NetworkRecord {
    const all = this.list();
    const hit = all.find((n) => n.Name === ref) ?? all.find((n) => n.Id === ref);
    if (hit) return hit;
    const pre = ref.length >= 1 ? all.filter((n) => n.Id.startsWith(ref)) : [];
    if (pre.length === 1) return pre[0]!;
    if (pre.length > 1) throw new InvalidArgument(`network ${ref} is ambiguous (${pre.length} matches found based on ID prefix)`);
    throw new NotFound(`network ${ref} not found`);
  }

  async create(req: { Name: string; Driver?: string; Internal?: boolean; Labels?: Record<string, string>; Options?: Record<string, string>; IPAM?: { Config?: { Subnet?: string; Gateway?: string; IPRange?: string }[] }; CheckDuplicate?: boolean }): Promise<NetworkRecord> {
    const name = req.Name;
    if (!name || !/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(name)) throw new InvalidArgument(`invalid network name "${name ?? ""}": only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`);
    if (this.list().some((n) => n.Name === name)) throw new Conflict(`network with name ${name} already exists`);
    if (req.Driver && req.Driver !== "bridge") throw new InvalidArgument(`network driver "${req.Driver}" is not supported: berth creates bridge networks (host and none exist already)`);
    const cfgs = req.IPAM?.Config ?? [];
    if (cfgs.length > 1) throw new InvalidArgument("berth networks take one IPv4 subnet");
    const want = cfgs[0] ?? {};
    const taken = this.takenSubnets();
    let subnet: Subnet;
    if (want.Subnet) {
      subnet = parseSubnet(want.Subnet);
      if (subnet.bits > 30) throw new InvalidArgument(`subnet ${want.Subnet} is too small: give a prefix of /30 or shorter`);
      const clash = this.list().find((n) => n.IPAM.Config.some((c) => overlaps(parseSubnet(c.Subnet), subnet)));
      if (clash) throw new Conflict(`invalid pool request: Pool overlaps with other one on this address space (network ${clash.Name} has ${clash.IPAM.Config[0]!.Subnet})`);
      const route = hostRoutes((i) => this.isOwnBridge(i)).find((r) => overlaps(r, subnet));
      if (route) throw new Conflict(`subnet ${want.Subnet} overlaps a route of this host (${formatSubnet(route)})`);
    } else {
      if (want.Gateway || want.IPRange) throw new InvalidArgument("--gateway and --ip-range need --subnet");
      subnet = this.allocate(taken);
    }
    const gw = want.Gateway ? parseIp(want.Gateway) : subnet.base + 1;
    if (!contains(subnet, gw) || gw === subnet.base) throw new InvalidArgument(`gateway ${want.Gateway} is not a host address of subnet ${formatSubnet(subnet)}`);
    if (want.IPRange) {
      const r = parseSubnet(want.IPRange);
      if (!contains(subnet, r.base) || r.bits < subnet.bits) throw new InvalidArgument(`ip-range ${want.IPRange} is not inside subnet ${formatSubnet(subnet)}`);
    }
    const id = randomBytes(32).toString("hex");
    const opts = { ...(req.Options ?? {}) };
    const bridge = opts[BRIDGE_OPT] ?? `berth-${id.slice(0, 9)}`;
    if (!/^[a-zA-Z0-9_.-]{1,15}$/.test(bridge)) throw new InvalidArgument(`invalid bridge name "${bridge}": at most 15 characters of [a-zA-Z0-9_.-]`);
    if (this.list().some((n) => n.Options[BRIDGE_OPT] === bridge)) throw new Conflict(`bridge ${bridge} is used by another network`);
    if (opts[MTU_OPT] !== undefined && !(Number(opts[MTU_OPT]) >= 68 && Number(opts[MTU_OPT]) <= 65535)) throw new InvalidArgument(`invalid MTU ${opts[MTU_OPT]}`);
    opts[BRIDGE_OPT] = bridge;
    const rec: NetworkRecord = {
      ...blank(name, id), Driver: "bridge", Internal: !!req.Internal, Labels: req.Labels ?? {}, Options: opts,
      IPAM: { Driver: "default", Options: {}, Config: [{ Subnet: formatSubnet(subnet), Gateway: formatIp(gw), ...(want.IPRange ? { IPRange: want.IPRange } : {}) }] },
    };
    await this.save(rec);
    return rec;
  }

  remove(id: string): void {
    const n = this.byId.get(id);
    if (!n) throw new NotFound(`network ${id} not found`);
    if (isPredefined(n.Name)) throw new Conflict(`${n.Name} is a pre-defined network and cannot be removed`);
    rmSync(join(this.dir, `${id}.json`), { force: true });
    this.byId.delete(id);
  }

  bridgeOf(n: NetworkRecord): string {
    return n.Options[BRIDGE_OPT] ?? DEFAULT_BRIDGE;
  }

  /** The CNI list for one attachment: bridge with host-local IPAM, and portmap when ports are published. */
  confList(n: NetworkRecord, withPorts: boolean): NetworkConfList {
    const c = n.IPAM.Config[0]!;
    const range: Record<string, string> = { subnet: c.Subnet, gateway: c.Gateway };
    if (c.IPRange) {
      const r = parseSubnet(c.IPRange);
      range.rangeStart = formatIp(Math.max(r.base, parseSubnet(c.Subnet).base + 1));
      range.rangeEnd = formatIp(r.base + 2 ** (32 - r.bits) - 2);
    }
    const mtu = n.Options[MTU_OPT] ? Number(n.Options[MTU_OPT]) : undefined;
    const plugins: PluginConf[] = [{
      type: "bridge", bridge: this.bridgeOf(n), isGateway: true, ipMasq: false, hairpinMode: true, ...(mtu ? { mtu } : {}), capabilities: { mac: true },
      ipam: { type: "host-local", ranges: [[range]], routes: n.Internal ? [] : [{ dst: "0.0.0.0/0" }], dataDir: this.ipamDir() },
    }];
    if (withPorts) plugins.push({ type: "portmap", capabilities: { portMappings: true }, snat: true });
    return { cniVersion: CNI_VERSION, name: `berth-${n.Id.slice(0, 12)}`, plugins };
  }

  /** host-local's lease files; under the run dir, like the netns and the rules, which a reboot clears too. */
  ipamDir(): string {
    return join(this.o.execRoot, "cni", "ipam");
  }

  isOwnBridge(iface: string): boolean {
    return this.list().some((n) => n.Driver === "bridge" && this.bridgeOf(n) === iface);
  }

  private takenSubnets(): Subnet[] {
    return [
      ...hostRoutes((i) => this.isOwnBridge(i)),
      ...this.list().flatMap((n) => n.IPAM.Config.map((c) => parseSubnet(c.Subnet))),
    ];
  }

  private allocate(taken: Subnet[]): Subnet {
    const pool = this.o.addressPool ?? DEFAULT_POOL;
    const base = parseSubnet(pool.base);
    if (pool.size < base.bits || pool.size > 30) throw new InvalidArgument(`default address pool: size ${pool.size} does not fit ${pool.base}`);
    const count = 2 ** (pool.size - base.bits);
    for (let i = 0; i < count; i++) {
      const s = { base: (base.base + i * 2 ** (32 - pool.size)) >>> 0, bits: pool.size };
      if (!taken.some((t) => overlaps(t, s))) return s;
    }
    throw new Conflict(`could not find an available, non-overlapping IPv4 address pool among the defaults to assign to the network (${pool.base} split in /${pool.size})`);
  }

  private async save(r: NetworkRecord): Promise<void> {
    await writeFileAtomic(join(this.dir, `${r.Id}.json`), JSON.stringify(r));
    this.byId.set(r.Id, r);
  }
}

export const isPredefined = (name: string): boolean => name === "bridge" || name === "host" || name === "none";

function blank(name: string, id: string): NetworkRecord {
  return {
    Name: name, Id: id, Created: new Date().toISOString(), Scope: "local", Driver: "bridge", EnableIPv6: false,
    IPAM: { Driver: "default", Options: null, Config: [] }, Internal: false, Attachable: false, Ingress: false,
    ConfigFrom: { Network: "" }, ConfigOnly: false, Options: {}, Labels: {},
  };
}

