/**
 * The files every container gets from the engine, bind-mounted over the image's own (the seeds'
 * "init layer", which commit never includes): /etc/hostname, /etc/hosts, /etc/resolv.conf.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { writeFileVolatile } from "../fsutil.js";

export interface ContainerFilesInput {
  dir: string;
  hostname: string;
  domainname?: string;
  /** The container's own address on its network, when it has one. */
  address?: string;
  extraHosts?: string[];
  dns?: string[];
  dnsSearch?: string[];
  dnsOptions?: string[];
  /** host network: the container shares the host's files. */
  hostNetwork?: boolean;
}

/** docker's rules: the host's resolvers minus loopback ones (unreachable from a netns), else Google's. */
export function resolvConf(hostText: string, i: Pick<ContainerFilesInput, "dns" | "dnsSearch" | "dnsOptions" | "hostNetwork">): string {
  const lines = hostText.split("\n");
  const ns = i.dns?.length ? i.dns : lines.map((l) => /^\s*nameserver\s+(\S+)/.exec(l)?.[1]).filter((x): x is string => !!x).filter((a) => i.hostNetwork || !/^(127\.|::1$)/.test(a));
  const search = i.dnsSearch?.length ? i.dnsSearch : lines.map((l) => /^\s*search\s+(.+)$/.exec(l)?.[1]).filter((x): x is string => !!x).flatMap((s) => s.split(/\s+/));
  const options = i.dnsOptions?.length ? i.dnsOptions : lines.map((l) => /^\s*options\s+(.+)$/.exec(l)?.[1]).filter((x): x is string => !!x).flatMap((s) => s.split(/\s+/));
  const out: string[] = [];
  if (search.length) out.push(`search ${search.join(" ")}`);
  for (const n of ns.length ? ns : ["8.8.8.8", "8.8.4.4"]) out.push(`nameserver ${n}`);
  if (options.length) out.push(`options ${options.join(" ")}`);
  return out.join("\n") + "\n";
}

export function hostsFile(i: Pick<ContainerFilesInput, "hostname" | "domainname" | "address" | "extraHosts">): string {
  const out = [
    "127.0.0.1\tlocalhost",
    "::1\tlocalhost ip6-localhost ip6-loopback",
    "fe00::0\tip6-localnet",
    "ff00::0\tip6-mcastprefix",
    "ff02::1\tip6-allnodes",
    "ff02::2\tip6-allrouters",
  ];
  for (const h of i.extraHosts ?? []) {
    const sep = h.lastIndexOf(":") > 0 && !h.includes("=") ? h.indexOf(":") : h.indexOf("=");
    const name = h.slice(0, sep);
    const addr = h.slice(sep + 1);
    out.push(`${addr}\t${name}`);
  }
  if (i.address) out.push(`${i.address}\t${i.domainname ? `${i.hostname}.${i.domainname} ` : ""}${i.hostname}`);
  return out.join("\n") + "\n";
}

export async function writeContainerFiles(i: ContainerFilesInput): Promise<{ hostname: string; hosts: string; resolvConf: string }> {
  const paths = { hostname: join(i.dir, "hostname"), hosts: join(i.dir, "hosts"), resolvConf: join(i.dir, "resolv.conf") };
  let hostResolv = "";
  try { hostResolv = readFileSync("/etc/resolv.conf", "utf8"); } catch { /* none */ }
  // Remade at every start: no fsync.
  writeFileVolatile(paths.hostname, `${i.hostname}\n`);
  writeFileVolatile(paths.hosts, i.hostNetwork ? readFileSync("/etc/hosts", "utf8") : hostsFile(i));
  writeFileVolatile(paths.resolvConf, resolvConf(hostResolv, i));
  return paths;
}
