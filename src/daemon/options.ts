/**
 * berthd's options, with dockerd's names so several private daemons can run side by side:
 * --data-root, --exec-root, -H/--host unix://PATH, --pidfile, --log-level, --cgroup-parent,
 * --insecure-registry (repeatable), --bip and --default-address-pool (kept for networking).
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
}

export function parseDaemonArgs(argv: string[]): DaemonOptions {
  const o: DaemonOptions = {
    dataRoot: "/var/lib/berth", execRoot: "/run/berth", socket: "", pidfile: "", logLevel: "info",
    cgroupParent: "/berth", insecureRegistries: [], defaultAddressPools: [],
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
      case "--default-address-pool": o.defaultAddressPools.push(value()); break;
      case "-D": case "--debug": o.logLevel = "debug"; break;
      default: throw new InvalidArgument(`unknown flag: ${flag}`);
    }
  }
  if (!o.socket) o.socket = `${o.execRoot}/berth.sock`;
  if (!o.pidfile) o.pidfile = `${o.execRoot}/berthd.pid`;
  return o;
}
