/**
 * The network module's pure parts: -p grammar, subnets, DNS packets, network records and subnet
 * choice, and the CNI executor against fake plugins (shell scripts) that record what they were
 * given — the CNI protocol without touching the host's network.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Cni, CniError } from "./cni.js";
import { answer, parseQuestion } from "./dns.js";
import { contains, formatSubnet, overlaps, parseIp, parseSubnet } from "./ipnet.js";
import { NetworkStore } from "./networks.js";
import { bindingsOf, parsePublish, portsLine } from "./ports.js";

test("-p grammar: docker's forms become ExposedPorts and PortBindings", () => {
  assert.deepEqual(parsePublish(["8080:80"]), { exposed: { "80/tcp": {} }, bindings: { "80/tcp": [{ HostIp: "", HostPort: "8080" }] } });
  assert.deepEqual(parsePublish(["127.0.0.1:0:53/udp"]).bindings, { "53/udp": [{ HostIp: "127.0.0.1", HostPort: "0" }] });
  assert.deepEqual(parsePublish(["80"]).bindings, { "80/tcp": [{ HostIp: "", HostPort: "" }] });
  assert.deepEqual(parsePublish(["8000-8001:80-81"]).bindings, { "80/tcp": [{ HostIp: "", HostPort: "8000" }], "81/tcp": [{ HostIp: "", HostPort: "8001" }] });
  assert.deepEqual(parsePublish(["9000-9010:80"]).bindings, { "80/tcp": [{ HostIp: "", HostPort: "9000-9010" }] });
  for (const bad of ["80:80:80:80", "70000:80", "80/sctp", "a:80", "8000-8002:80-81", "300.1.1.1:80:80", "0"]) {
    assert.throws(() => parsePublish([bad]), /invalid/, bad);
  }
});

test("bindings: PortBindings plus -P's exposed ports; ps's Ports line", () => {
  const b = bindingsOf({ "80/tcp": [{ HostIp: "", HostPort: "8080" }] }, { "80/tcp": {}, "443/tcp": {} }, true);
  assert.deepEqual(b, [
    { hostIp: "0.0.0.0", hostPort: 8080, containerPort: 80, protocol: "tcp" },
    { hostIp: "0.0.0.0", hostPort: 0, containerPort: 443, protocol: "tcp" },
  ]);
  assert.deepEqual(bindingsOf({ "80": [{ HostPort: "9000-9010" }] }, undefined, false), [{ hostIp: "0.0.0.0", hostPort: 9000, hostPortEnd: 9010, containerPort: 80, protocol: "tcp" }]);
  assert.throws(() => bindingsOf({ "80/tcp": [{ HostIp: "::1", HostPort: "1" }] }, undefined, false), /IPv4/);
  assert.equal(portsLine([{ IP: "0.0.0.0", PrivatePort: 80, PublicPort: 8080, Type: "tcp" }, { PrivatePort: 443, Type: "tcp" }]), "0.0.0.0:8080->80/tcp, 443/tcp");
});

test("subnets: parse, contain, overlap; host bits refused", () => {
  const s = parseSubnet("10.89.3.0/24");
  assert.equal(formatSubnet(s), "10.89.3.0/24");
  assert.ok(contains(s, parseIp("10.89.3.200")));
  assert.ok(!contains(s, parseIp("10.89.4.1")));
  assert.ok(overlaps(s, parseSubnet("10.89.0.0/16")));
  assert.ok(!overlaps(s, parseSubnet("10.89.4.0/24")));
  assert.throws(() => parseSubnet("10.89.3.1/24"), /host bits are set/);
  assert.throws(() => parseIp("10.1.1.256"), /invalid IPv4/);
  assert.equal(formatSubnet(parseSubnet("0.0.0.0/0")), "0.0.0.0/0");
});

test("DNS: a question is parsed, an A answer points at it, other rcodes carry no answer", () => {
  // id 0x1234, RD, one question: srv.front A IN
  const q = Buffer.concat([Buffer.from([0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]), Buffer.from([3, ...Buffer.from("Srv"), 5, ...Buffer.from("front"), 0, 0, 1, 0, 1])]);
  const parsed = parseQuestion(q)!;
  assert.deepEqual({ name: parsed.name, type: parsed.type }, { name: "srv.front", type: 1 });
  const a = answer(q, parsed, 0, "10.89.0.7");
  assert.equal(a.readUInt16BE(0), 0x1234);
  assert.equal(a.readUInt16BE(2) & 0x8000, 0x8000, "QR set");
  assert.equal(a.readUInt16BE(2) & 0x0100, 0x0100, "RD kept");
  assert.equal(a.readUInt16BE(6), 1, "one answer");
  assert.deepEqual([...a.subarray(a.length - 4)], [10, 89, 0, 7]);
  const nx = answer(q, parsed, 3);
  assert.equal(nx.readUInt16BE(2) & 0xf, 3);
  assert.equal(nx.readUInt16BE(6), 0);
  assert.equal(parseQuestion(Buffer.from([1, 2, 3])), undefined);
  assert.equal(parseQuestion(Buffer.concat([q.subarray(0, 12), Buffer.from([70, 1, 2])])), undefined, "a label longer than the packet");
});

test("networks: the default bridge, user subnets from the pool around taken ones, bad requests refused", async () => {
  const dir = mkdtempSync(join(tmpdir(), "berth-net-"));
  try {
    const store = new NetworkStore({ dataRoot: join(dir, "data"), execRoot: join(dir, "run"), addressPool: { base: "10.201.0.0/16", size: 24 }, bip: "10.200.0.1/16", bridge: "bt-unit" });
    const def = await store.ensureDefault();
    assert.deepEqual(def.IPAM.Config, [{ Subnet: "10.200.0.0/16", Gateway: "10.200.0.1" }]);
    assert.equal(store.bridgeOf(def), "bt-unit");
    assert.deepEqual(store.list().map((n) => n.Name), ["bridge", "host", "none"]);
    const a = await store.create({ Name: "a1" });
    assert.equal(a.IPAM.Config[0]!.Subnet, "10.201.0.0/24");
    await store.create({ Name: "fixed", IPAM: { Config: [{ Subnet: "10.201.1.0/24", Gateway: "10.201.1.254", IPRange: "10.201.1.128/25" }] } });
    const c = await store.create({ Name: "c1" });
    assert.equal(c.IPAM.Config[0]!.Subnet, "10.201.2.0/24", "the pool skips subnets in use");
    await assert.rejects(store.create({ Name: "a1" }), /already exists/);
    await assert.rejects(store.create({ Name: "o", IPAM: { Config: [{ Subnet: "10.201.0.0/16" }] } }), /overlaps/);
    await assert.rejects(store.create({ Name: "g", IPAM: { Config: [{ Subnet: "10.202.0.0/24", Gateway: "10.203.0.1" }] } }), /not a host address/);
    await assert.rejects(store.create({ Name: "r", IPAM: { Config: [{ Subnet: "10.202.0.0/24", IPRange: "10.202.1.0/25" }] } }), /not inside subnet/);
    await assert.rejects(store.create({ Name: "d", Driver: "overlay" }), /not supported/);
    await assert.rejects(store.create({ Name: "-x" }), /invalid network name/);
    // The CNI list: bridge + host-local with the range; portmap only with published ports.
    const list = store.confList(store.get("fixed"), true);
    assert.deepEqual(list.plugins.map((p) => p.type), ["bridge", "portmap"]);
    const ipam = list.plugins[0]!.ipam as { ranges: Record<string, string>[][] };
    assert.deepEqual(ipam.ranges[0]![0], { subnet: "10.201.1.0/24", gateway: "10.201.1.254", rangeStart: "10.201.1.128", rangeEnd: "10.201.1.254" });
    assert.deepEqual(store.confList(a, false).plugins.map((p) => p.type), ["bridge"]);
    // Records persist; prefixes of ids resolve.
    const again = new NetworkStore({ dataRoot: join(dir, "data"), execRoot: join(dir, "run") });
    assert.equal(again.get(c.Id.slice(0, 6)).Name, "c1");
    assert.throws(() => again.get("nosuch"), /network nosuch not found/);
    assert.throws(() => again.remove(again.get("bridge").Id), /pre-defined/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("CNI: env and stdin per the spec, prevResult chained, DEL in reverse with the result, failures named and rolled back", async () => {
  const dir = mkdtempSync(join(tmpdir(), "berth-cni-"));
  try {
    const log = join(dir, "log");
    // A plugin that logs its command, type and prevResult presence, and answers a result.
    const plugin = (name: string, fail = false): void => {
      writeFileSync(join(dir, name), `#!/bin/sh
in=$(cat)
echo "$CNI_COMMAND ${name} $CNI_CONTAINERID $CNI_IFNAME $CNI_ARGS prev=$(echo "$in" | grep -c prevResult) rc=$(echo "$in" | grep -c runtimeConfig)" >> ${log}
if [ "$CNI_COMMAND" = VERSION ]; then echo '{"cniVersion":"1.0.0","supportedVersions":["0.4.0","1.0.0"]}'; exit 0; fi
if [ "$CNI_COMMAND" = ADD ] && [ ${fail ? 1 : 0} = 1 ]; then echo '{"cniVersion":"1.0.0","code":11,"msg":"no room","details":"pool exhausted"}'; exit 1; fi
[ "$CNI_COMMAND" = ADD ] && echo '{"cniVersion":"1.0.0","ips":[{"address":"10.9.0.2/24","gateway":"10.9.0.1"}]}'
exit 0
`);
      chmodSync(join(dir, name), 0o755);
    };
    plugin("one");
    plugin("two");
    plugin("bad", true);
    const cni = new Cni({ path: [dir] });
    assert.deepEqual(await cni.version("one"), ["0.4.0", "1.0.0"]);
    const rt = { containerId: "c1", netns: "/proc/self/ns/net", ifName: "eth0", args: { IP: "10.9.0.9" }, capabilityArgs: { portMappings: [{ hostPort: 1, containerPort: 2, protocol: "tcp" }] } };
    const list = { cniVersion: "1.0.0", name: "n", plugins: [{ type: "one" }, { type: "two", capabilities: { portMappings: true } }] };
    const r = await cni.add(list, rt);
    assert.equal(r.ips?.[0]?.address, "10.9.0.2/24");
    await cni.del(list, rt, r);
    assert.deepEqual(readFileSync(log, "utf8").trim().split("\n").slice(1), [
      "ADD one c1 eth0 IgnoreUnknown=1;IP=10.9.0.9 prev=0 rc=0",
      "ADD two c1 eth0 IgnoreUnknown=1;IP=10.9.0.9 prev=1 rc=1",
      "DEL two c1 eth0 IgnoreUnknown=1;IP=10.9.0.9 prev=1 rc=1",
      "DEL one c1 eth0 IgnoreUnknown=1;IP=10.9.0.9 prev=1 rc=0",
    ]);
    writeFileSync(log, "");
    const failing = { ...list, plugins: [{ type: "one" }, { type: "bad" }, { type: "two" }] };
    await assert.rejects(cni.add(failing, rt), (e: unknown) => e instanceof CniError && /CNI plugin bad failed: no room: pool exhausted/.test(e.message));
    assert.deepEqual(readFileSync(log, "utf8").trim().split("\n").map((l) => l.split(" ").slice(0, 2).join(" ")), ["ADD one", "ADD bad", "DEL bad", "DEL one"], "what ran is deleted again");
    await assert.rejects(cni.add({ ...list, plugins: [{ type: "missing" }] }, rt), /CNI plugin missing not found/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
