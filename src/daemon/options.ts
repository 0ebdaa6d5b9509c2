/**
 * berthd's options, with dockerd's names so several private daemons can run side by side:
 * --data-root, --exec-root, -H/--host unix://PATH, --pidfile, --log-level, --cgroup-parent,
 * --insecure-registry (repeatable), -b/--bridge, --bip, --default-address-pool base=CIDR,size=N and --mtu for the
 * bridge networks, and berth's own --dns-forward IP[:port] (repeatable: where user networks' DNS
 * forwards names it does not know; default the host's resolvers).
 */
import { InvalidArgument } from "../errdefs.js";

export interface DaemonOptions {
  dataRoot: string;
  execRoot: string;
  socket: string;
  pidfile: string;
  logLevel: "debug" | "info" | "warn" | "error";
  cgroupParent: string;
  insecureRegistries: string[];
  bip?: string;
  defaultAddressPools: string[];
  mtu?: number;
  /** dockerd's -b/--bridge: the default network's bridge interface (default berth0). */
  bridge?: string;
  dnsForward: string[];
}

export function parseDaemonArgs(argv: string[]): DaemonOptions {
  const o: DaemonOptions = {
    dataRoot: "/var/lib/berth", execRoot: "/run/berth", socket: "", pidfile: "", logLevel: "info",
    cgroupParent: "/berth", insecureRegistries: [], defaultAddressPools: [], dnsForward: [],
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const [flag, inline] = a.startsWith("--") && a.includes("=") ? [a.slice(0, a.indexOf("=")), a.slice(a.indexOf("=") + 1)] : [a, undefined];
    const value = (): string => {
      const v = inline ?? argv[++i];
      if (v === undefined) throw new InvalidArgument(`flag needs an argument: ${flag}`);
      return v;
    };
    switch (flag) {
      case "--data-root": o.dataRoot = value(); break;
      case "--exec-root": o.execRoot = value(); break;
      case "-H": case "--host": {
        const v = value();
        if (!v.startsWith("unix://")) throw new InvalidArgument(`--host ${v}: only unix:// sockets are supported`);
        o.socket = v.slice("unix://".length);
        break;
      }
      case "-p": case "--pidfile": o.pidfile = value(); break;
      case "-l": case "--log-level": {
        const v = value();
        if (!["debug", "info", "warn", "error", "fatal"].includes(v)) throw new InvalidArgument(`--log-level: unknown level "${v}"`);
        o.logLevel = (v === "fatal" ? "error" : v) as DaemonOptions["logLevel"];
        break;
      }
      case "--cgroup-parent": o.cgroupParent = value(); break;
      case "--insecure-registry": o.insecureRegistries.push(value()); break;
      case "--bip": o.bip = value(); break;
      case "-b": case "--bridge": {
        const v = value();
        if (!/^[a-zA-Z0-9_.-]{1,15}$/.test(v)) throw new InvalidArgument(`--bridge ${v}: an interface name of at most 15 characters`);
        o.bridge = v;
        break;
      }
      case "--default-address-pool": {
        const v = value();
        if (!/^base=[\d.]+\/\d+,size=\d+$/.test(v)) throw new InvalidArgument(`--default-address-pool ${v}: expected base=CIDR,size=N`);
        o.defaultAddressPools.push(v);
        break;
      }
      case "--mtu": {
        const v = Number(value());
        if (!Number.isInteger(v) || v < 68 || v > 65535) throw new InvalidArgument(`--mtu: invalid value`);
        o.mtu = v;
        break;
      }
      case "--dns-forward": {
        const v = value();
        if (!/^\d{1,3}(\.\d{1,3}){3}(:\d+)?$/.test(v)) throw new InvalidArgument(`--dns-forward ${v}: expected IP or IP:port`);
        o.dnsForward.push(v);
        break;
      }
      case "-D": case "--debug": o.logLevel = "debug"; break;
      default: throw new InvalidArgument(`unknown flag: ${flag}`);
    }
  }
  if (!o.socket) o.socket = `${o.execRoot}/berth.sock`;
  if (!o.pidfile) o.pidfile = `${o.execRoot}/berthd.pid`;
  return o;
}
