/**
 * Runs CNI plugins as the CNI spec (1.0) says: one executable per plugin, found on CNI_PATH, the
 * operation in the environment (CNI_COMMAND, CNI_CONTAINERID, CNI_NETNS, CNI_IFNAME, CNI_ARGS,
 * CNI_PATH), the network configuration on stdin, the result (or an error object) on stdout.
 *
 * A network configuration list runs its plugins in order for ADD, each getting the previous one's
 * result as `prevResult`, and in reverse for DEL, each getting the result that ADD returned.
 * berth keeps that result with the attachment, so DEL works after a daemon restart. When ADD fails
 * half-way, the plugins that already ran are deleted again, so nothing half-made stays behind.
 */
import { accessSync, constants } from "node:fs";
import { BerthError, Unavailable } from "../errdefs.js";
import { addon } from "../snapshot/sys.js";

export const CNI_VERSION = "1.0.0";

export interface PluginConf {
  type: string;
  [key: string]: unknown;
}

export interface NetworkConfList {
  cniVersion: string;
  name: string;
  plugins: PluginConf[];
}

export interface RuntimeConf {
  containerId: string;
  netns: string;
  ifName: string;
  /** CNI_ARGS pairs (host-local understands IP=). */
  args?: Record<string, string>;
  /** Capability arguments, handed to plugins that declare the capability (portMappings). */
  capabilityArgs?: Record<string, unknown>;
}

export interface CniResult {
  cniVersion?: string;
  interfaces?: { name: string; mac?: string; sandbox?: string }[];
  ips?: { interface?: number; address: string; gateway?: string }[];
  routes?: { dst: string; gw?: string }[];
  dns?: Record<string, unknown>;
}

/** A plugin's failure: names the plugin and carries its error code and message. */
export class CniError extends BerthError {
  override readonly code = "ERR_CNI";
  constructor(readonly plugin: string, readonly cniCode: number, msg: string) {
    super(`CNI plugin ${plugin} failed: ${msg}`);
  }
}

export interface CniOptions {
  /** Directories holding the plugin executables. */
  path: string[];
}

export class Cni {
  constructor(private readonly o: CniOptions) {}

  /** ADD through the list; on failure the plugins that ran are deleted and the error is thrown. */
  async add(list: NetworkConfList, rt: RuntimeConf): Promise<CniResult> {
    let prev: CniResult | undefined;
    const ran: PluginConf[] = [];
    for (const p of list.plugins) {
      ran.push(p);
      try {
        prev = (await this.exec("ADD", pluginStdin(list, p, rt, prev), p.type, rt)) as CniResult;
      } catch (e) {
        await this.del({ ...list, plugins: ran }, rt, prev).catch(() => {});
        throw e;
      }
    }
    return prev ?? {};
  }

  /** DEL through the list in reverse; every plugin runs even when one fails (the first error is thrown). */
  async del(list: NetworkConfList, rt: RuntimeConf, result: CniResult | undefined): Promise<void> {
    let first: unknown;
    for (const p of [...list.plugins].reverse()) {
      try {
        await this.exec("DEL", pluginStdin(list, p, rt, result), p.type, rt);
      } catch (e) {
        first ??= e;
      }
    }
    if (first) throw first;
  }

  /** CHECK through the list: the plugins verify that what ADD made is still there. */
  async check(list: NetworkConfList, rt: RuntimeConf, result: CniResult): Promise<void> {
    for (const p of list.plugins) await this.exec("CHECK", pluginStdin(list, p, rt, result), p.type, rt);
  }

  /** VERSION of one plugin: the spec versions it supports. */
  async version(type: string): Promise<string[]> {
    const out = (await this.exec("VERSION", { cniVersion: CNI_VERSION }, type)) as { supportedVersions?: string[] };
    return out.supportedVersions ?? [];
  }

  private exec(command: string, conf: unknown, type: string, rt?: RuntimeConf): Promise<unknown> {
    if (!/^[A-Za-z0-9_.-]+$/.test(type)) return Promise.reject(new CniError(type, 0, "invalid plugin name"));
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH ?? "/usr/sbin:/usr/bin:/sbin:/bin",
      CNI_COMMAND: command,
      CNI_PATH: this.o.path.join(":"),
    };
    if (rt) {
      env.CNI_CONTAINERID = rt.containerId;
      env.CNI_NETNS = rt.netns;
      env.CNI_IFNAME = rt.ifName;
      const args = Object.entries(rt.args ?? {});
      if (args.length) env.CNI_ARGS = ["IgnoreUnknown=1", ...args.map(([k, v]) => `${k}=${v}`)].join(";");
    }
    const bin = this.find(type);
    if (!bin) return Promise.reject(new Unavailable(`CNI plugin ${type} not found in ${this.o.path.join(":")} (Debian: apt-get install containernetworking-plugins)`));
    // The addon's run: posix_spawn from a thread-pool thread, so berthd is not forked per plugin call.
    return addon().run(bin, [bin], Object.entries(env).map(([k, v]) => `${k}=${v}`), JSON.stringify(conf)).then((r) => {
      let parsed: Record<string, unknown> | undefined;
      try { parsed = r.stdout.trim() ? (JSON.parse(r.stdout) as Record<string, unknown>) : {}; } catch { parsed = undefined; }
      if (r.status === 0) {
        if (parsed) return parsed;
        throw new CniError(type, 0, `unparsable output: ${r.stdout.slice(0, 200)}`);
      }
      if (parsed && typeof parsed.msg === "string") {
        const details = typeof parsed.details === "string" && parsed.details ? `: ${parsed.details}` : "";
        throw new CniError(type, Number(parsed.code ?? 0), `${parsed.msg}${details}`);
      }
      const why = r.signal ? `killed by signal ${r.signal}` : `exit status ${r.status}`;
      throw new CniError(type, 0, (r.stderr || r.stdout || why).trim().split("\n").pop() ?? why);
    }, (e: Error) => { throw new CniError(type, 0, e.message); });
  }

  private readonly found = new Map<string, string | undefined>();

  private find(type: string): string | undefined {
    if (!this.found.has(type)) {
      let hit: string | undefined;
      for (const d of this.o.path) {
        try { accessSync(`${d}/${type}`, constants.X_OK); hit = `${d}/${type}`; break; } catch { /* next */ }
      }
      this.found.set(type, hit);
    }
    return this.found.get(type);
  }
}

/** The stdin of one plugin of a list: its own config with the list's name and version. */
function pluginStdin(list: NetworkConfList, p: PluginConf, rt: RuntimeConf, prev: CniResult | undefined): Record<string, unknown> {
  const conf: Record<string, unknown> = { ...p, cniVersion: list.cniVersion, name: list.name };
  if (prev) conf.prevResult = prev;
  const caps = (p.capabilities ?? {}) as Record<string, boolean>;
  const runtimeConfig: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(rt.capabilityArgs ?? {})) if (caps[k]) runtimeConfig[k] = v;
  if (Object.keys(runtimeConfig).length) conf.runtimeConfig = runtimeConfig;
  return conf;
}
