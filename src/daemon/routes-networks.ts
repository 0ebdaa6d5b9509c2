/** Docker Engine API: /networks (list, inspect, create, connect, disconnect, delete, prune). */
import type { ContainerRunner } from "../engine/container-runner.js";
import { endpointId } from "../engine/container-view.js";
import type { EventBus } from "../engine/events.js";
import { InvalidArgument } from "../errdefs.js";
import type { NetworkManager } from "../network/manager.js";
import { isPredefined, type NetworkRecord } from "../network/networks.js";
import { labelMatches, parseFilters, pruneFilter, Status, type Router } from "./http.js";
import { Status201 } from "./routes-system.js";

export interface NetworkDeps {
  runner: ContainerRunner;
  network: NetworkManager;
  events: EventBus;
}

export function networkRoutes(r: Router, d: NetworkDeps): void {
  /** Containers created on or connected to a network, running or not (what blocks its removal). */
  const users = (n: NetworkRecord): string[] =>
    d.runner.store.all().filter((c) => d.runner.networksOf(c).some((x) => x.Id === n.Id)).map((c) => c.Name.slice(1));

  const view = (n: NetworkRecord, withContainers: boolean): Record<string, unknown> => {
    const containers: Record<string, unknown> = {};
    if (withContainers) {
      for (const a of d.network.attached(n.Id)) {
        containers[a.id] = { Name: a.name, EndpointID: endpointId(a.id, n.Id), MacAddress: a.ep.mac, IPv4Address: a.ep.ip ? `${a.ep.ip}/${a.ep.prefixLen}` : "", IPv6Address: "" };
      }
    }
    return { ...n, Containers: containers };
  };

  const matches = (n: NetworkRecord, f: Record<string, string[]>): boolean => {
    for (const [k, vals] of Object.entries(f)) {
      if (!vals.length) continue;
      if (k === "name" && !vals.some((v) => n.Name.includes(v))) return false;
      else if (k === "id" && !vals.some((v) => n.Id.startsWith(v))) return false;
      else if (k === "driver" && !vals.includes(n.Driver)) return false;
      else if (k === "scope" && !vals.includes(n.Scope)) return false;
      else if (k === "type" && !vals.includes(isPredefined(n.Name) ? "builtin" : "custom")) return false;
      else if (k === "label" && !vals.every((v) => labelMatches(v, n.Labels))) return false;
      else if (k === "dangling" && (users(n).length === 0) !== vals.includes("true")) return false;
      else if (!["name", "id", "driver", "scope", "type", "label", "dangling"].includes(k)) throw new InvalidArgument(`invalid filter '${k}'`);
    }
    return true;
  };

  r.add("GET", "/networks", (c) => {
    const f = parseFilters(c.query);
    return d.network.store.list().filter((n) => matches(n, f)).map((n) => view(n, false));
  });
  r.add("GET", "/networks/{id}", (c) => view(d.network.store.get(c.params.id!), true));
  r.add("POST", "/networks/create", async (c) => {
    const body = (await c.body()) as Parameters<NetworkManager["createNetwork"]>[0];
    const n = await d.network.createNetwork(body);
    d.events.emit("network", "create", n.Id, { name: n.Name, type: n.Driver });
    return new Status201({ Id: n.Id, Warning: "" });
  });
  r.add("DELETE", "/networks/{id}", async (c) => {
    const n = await d.network.removeNetwork(c.params.id!, users);
    d.events.emit("network", "destroy", n.Id, { name: n.Name, type: n.Driver });
    return new Status(204);
  });
  r.add("POST", "/networks/prune", async (c) => {
    const wanted = pruneFilter(parseFilters(c.query));
    const deleted: string[] = [];
    for (const n of d.network.store.list()) {
      if (isPredefined(n.Name) || users(n).length || d.network.attached(n.Id).length) continue;
      if (wanted && !wanted({ created: Date.parse(n.Created) / 1000, labels: n.Labels })) continue;
      await d.network.removeNetwork(n.Id, users);
      d.events.emit("network", "destroy", n.Id, { name: n.Name, type: n.Driver });
      deleted.push(n.Name);
    }
    return { NetworksDeleted: deleted };
  });
  r.add("POST", "/networks/{id}/connect", async (c) => {
    const n = d.network.store.get(c.params.id!);
    const body = (await c.body()) as { Container?: string; EndpointConfig?: { Aliases?: string[]; IPAMConfig?: { IPv4Address?: string } } };
    if (!body.Container) throw new InvalidArgument("connect: no container given");
    await d.runner.connectNetwork(body.Container, n, body.EndpointConfig ?? {});
    return new Status(200);
  });
  r.add("POST", "/networks/{id}/disconnect", async (c) => {
    const n = d.network.store.get(c.params.id!);
    const body = (await c.body()) as { Container?: string; Force?: boolean };
    if (!body.Container) throw new InvalidArgument("disconnect: no container given");
    await d.runner.disconnectNetwork(body.Container, n);
    return new Status(200);
  });
}
