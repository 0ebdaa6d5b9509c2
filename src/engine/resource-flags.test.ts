import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { NotFound } from "../errdefs.js";
import { parseSize, parseUlimit, resourcesFromFlags, type HostInfo, type ResourceFlags } from "./resource-flags.js";
import { blockDeviceNumbers } from "./resource-flags-devices.js";

const MiB = 1024 * 1024;
const host: HostInfo = {
  onlineCpus: "0-1",
  onlineMems: "0",
  blockDevice: (p) => {
    if (p === "/dev/sda") return { major: 8, minor: 0 };
    if (p === "/dev/vdb") return { major: 254, minor: 16 };
    throw new NotFound(`${p}: no such file or directory`);
  },
};
const run = (f: ResourceFlags) => resourcesFromFlags(f, host);

test("parseSize follows docker's units, case-insensitive and binary", () => {
  const table: [string, number][] = [
    ["0", 0], ["1", 1], ["1b", 1], ["64m", 64 * MiB], ["64M", 64 * MiB], ["64MB", 64 * MiB], ["64mib", 64 * MiB], ["64 MiB", 64 * MiB],
    ["1k", 1024], ["1KB", 1024], ["1.5g", 1.5 * 1024 * MiB], ["2t", 2 * 1024 ** 4], ["1p", 1024 ** 5], ["0.5k", 512], ["1.1", 1],
  ];
  for (const [s, n] of table) assert.equal(parseSize(s), n, s);
  for (const bad of ["", "m", "-1", "1x", "1 mm", "abc", "1i", "1.2.3m", " 1m2"]) {
    assert.throws(() => parseSize(bad), { name: "InvalidArgument", message: `invalid size: '${bad}'` }, bad);
  }
});

test("valid flags map onto OCI resources", () => {
  const r = run({
    cpus: "1.5", cpuShares: "512", cpusetCpus: "0-1", cpusetMems: "0",
    memory: "256m", memorySwap: "1g", memoryReservation: "128m", memorySwappiness: "10", oomKillDisable: true,
    pidsLimit: "100", blkioWeight: "500", blkioWeightDevice: ["/dev/sda:200"],
    deviceReadBps: ["/dev/sda:1mb"], deviceWriteBps: ["/dev/vdb:10MB"], deviceReadIops: ["/dev/sda:1000"], deviceWriteIops: ["/dev/sda:500"],
    ulimit: ["nofile=1024:2048", "nproc=64", "core=-1"], shmSize: "128m",
  });
  assert.deepEqual(r, {
    resources: {
      cpu: { period: 100000, quota: 150000, shares: 512, cpus: "0-1", mems: "0" },
      memory: { limit: 256 * MiB, swap: 1024 * MiB, reservation: 128 * MiB, swappiness: 10, disableOOMKiller: true },
      pids: { limit: 100 },
      blockIO: {
        weight: 500, weightDevice: [{ major: 8, minor: 0, weight: 200 }],
        throttleReadBpsDevice: [{ major: 8, minor: 0, rate: MiB }], throttleWriteBpsDevice: [{ major: 254, minor: 16, rate: 10 * MiB }],
        throttleReadIOPSDevice: [{ major: 8, minor: 0, rate: 1000 }], throttleWriteIOPSDevice: [{ major: 8, minor: 0, rate: 500 }],
      },
    },
    rlimits: [
      { type: "RLIMIT_NOFILE", soft: 1024, hard: 2048 }, { type: "RLIMIT_NPROC", soft: 64, hard: 64 }, { type: "RLIMIT_CORE", soft: -1, hard: -1 },
    ],
    shmSize: 128 * MiB,
    warnings: [],
  });
});

test("docker defaults and edge values", () => {
  // -m alone: swap may equal memory (memsw = 2 × memory), as docker sets it.
  assert.deepEqual(run({ memory: "64m" }).resources.memory, { limit: 64 * MiB, swap: 128 * MiB });
  assert.deepEqual(run({ memory: "64m", memorySwap: "-1" }).resources.memory, { limit: 64 * MiB, swap: -1 });
  assert.deepEqual(run({ memory: "64m", memorySwap: "64m" }).resources.memory, { limit: 64 * MiB, swap: 64 * MiB });
  assert.deepEqual(run({ memory: "6m" }).resources.memory?.limit, 6 * MiB);
  assert.deepEqual(run({ pidsLimit: "0" }).resources.pids, { limit: -1 });
  assert.deepEqual(run({ pidsLimit: -1 }).resources.pids, { limit: -1 });
  assert.deepEqual(run({ cpus: "2" }).resources.cpu, { period: 100000, quota: 200000 });
  assert.deepEqual(run({ cpus: "3/2" }).resources.cpu, { period: 100000, quota: 150000 });
  assert.deepEqual(run({ cpus: 0.01 }).resources.cpu, { period: 100000, quota: 1000 });
  assert.deepEqual(run({ cpuPeriod: "50000", cpuQuota: "25000" }).resources.cpu, { period: 50000, quota: 25000 });
  assert.deepEqual(run({ cpuQuota: "-1" }).resources.cpu, { quota: -1 });
  assert.deepEqual(run({ memorySwappiness: "-1" }).resources, {});
  assert.deepEqual(run({ blkioWeight: 0, memory: "0", shmSize: "0" }), { resources: {}, rlimits: [], warnings: [] });
  assert.deepEqual(run({ ulimit: ["nofile=10", "nofile=20:30"] }).rlimits, [{ type: "RLIMIT_NOFILE", soft: 20, hard: 30 }]);
  assert.deepEqual(run({ cpuShares: "1" }), {
    resources: { cpu: { shares: 2 } }, rlimits: [], warnings: ["Changing requested CPUShares of 1 to minimum allowed of 2"],
  });
  assert.equal(run({ cpuShares: "300000" }).resources.cpu?.shares, 262144);
  const k = run({ kernelMemory: "50m", memory: "64m" });
  assert.match(k.warnings[0]!, /^Specifying a kernel memory limit is deprecated and will be removed in a future release/);
  assert.equal(k.resources.memory?.kernel, undefined);
});

test("invalid flags fail with docker's messages", () => {
  const table: [ResourceFlags, string][] = [
    [{ memory: "5m" }, "Minimum memory limit allowed is 6MB"],
    [{ memory: "10q" }, `invalid argument "10q" for "-m, --memory" flag: invalid size: '10q'`],
    [{ memorySwap: "1g" }, "You should always set the Memory limit when using Memoryswap limit, see usage"],
    [{ memory: "1g", memorySwap: "512m" }, "Minimum memoryswap limit should be larger than memory limit, see usage"],
    [{ memoryReservation: "1m" }, "Minimum memory reservation allowed is 6MB"],
    [{ memory: "64m", memoryReservation: "128m" }, "Minimum memory limit can not be less than memory reservation limit, see usage"],
    [{ memorySwappiness: "101" }, "Invalid value: 101, valid memory swappiness range is 0-100"],
    [{ memorySwappiness: "-2" }, "Invalid value: -2, valid memory swappiness range is 0-100"],
    [{ memorySwappiness: "x" }, `invalid argument "x" for "--memory-swappiness" flag: strconv.ParseInt: parsing "x": invalid syntax`],
    [{ oomKillDisable: true }, "--oom-kill-disable requires -m/--memory: without a memory limit, a container with the OOM killer disabled can exhaust the host's memory"],
    [{ cpus: "3" }, "Range of CPUs is from 0.01 to 2.00, as there are only 2 CPUs available"],
    [{ cpus: "0" }, "Range of CPUs is from 0.01 to 2.00, as there are only 2 CPUs available"],
    [{ cpus: "0.001" }, "Range of CPUs is from 0.01 to 2.00, as there are only 2 CPUs available"],
    [{ cpus: "abc" }, `invalid argument "abc" for "--cpus" flag: failed to parse abc as a rational number`],
    [{ cpus: "1", cpuPeriod: "50000" }, "Conflicting options: Nano CPUs and CPU Period cannot both be set"],
    [{ cpus: "1", cpuQuota: "50000" }, "Conflicting options: Nano CPUs and CPU Quota cannot both be set"],
    [{ cpuPeriod: "999" }, "CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)"],
    [{ cpuPeriod: "1000001" }, "CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)"],
    [{ cpuQuota: "999" }, "CPU cfs quota can not be less than 1ms (i.e. 1000)"],
    [{ cpuShares: "-5" }, "shares: invalid argument"],
    [{ cpuShares: "1.5" }, `invalid argument "1.5" for "-c, --cpu-shares" flag: strconv.ParseInt: parsing "1.5": invalid syntax`],
    [{ cpusetCpus: "0-3" }, "Requested CPUs are not available - requested 0-3, available: 0-1"],
    [{ cpusetCpus: "2" }, "Requested CPUs are not available - requested 2, available: 0-1"],
    [{ cpusetCpus: "a" }, "Invalid value a for cpuset cpus"],
    [{ cpusetCpus: "1-0" }, "Invalid value 1-0 for cpuset cpus"],
    [{ cpusetMems: "1" }, "Requested memory nodes are not available - requested 1, available: 0"],
    [{ cpusetMems: "0,x" }, "Invalid value 0,x for cpuset mems"],
    [{ pidsLimit: "lots" }, `invalid argument "lots" for "--pids-limit" flag: strconv.ParseInt: parsing "lots": invalid syntax`],
    [{ blkioWeight: "5" }, "Range of blkio weight is from 10 to 1000"],
    [{ blkioWeight: "1001" }, "Range of blkio weight is from 10 to 1000"],
    [{ blkioWeightDevice: ["/dev/sda"] }, `invalid argument "/dev/sda" for "--blkio-weight-device" flag: bad format: /dev/sda`],
    [{ blkioWeightDevice: ["sda:100"] }, `invalid argument "sda:100" for "--blkio-weight-device" flag: bad format for device path: sda:100`],
    [{ blkioWeightDevice: ["/dev/sda:5"] }, `invalid argument "/dev/sda:5" for "--blkio-weight-device" flag: invalid weight for device: /dev/sda:5`],
    [{ blkioWeightDevice: ["/dev/sda:x"] }, `invalid argument "/dev/sda:x" for "--blkio-weight-device" flag: invalid weight for device: /dev/sda:x`],
    [{ deviceReadBps: ["/dev/sda:1zb"] }, `invalid argument "/dev/sda:1zb" for "--device-read-bps" flag: invalid rate for device: /dev/sda:1zb. The correct format is <device-path>:<number>[<unit>]. Number must be a positive integer. Unit is optional and can be kb, mb, or gb`],
    [{ deviceWriteIops: ["/dev/sda:1k"] }, `invalid argument "/dev/sda:1k" for "--device-write-iops" flag: invalid rate for device: /dev/sda:1k. The correct format is <device-path>:<number>. Number must be a positive integer`],
    [{ deviceReadIops: ["/dev/nope:10"] }, "/dev/nope: no such file or directory"],
    [{ ulimit: ["nofile"] }, `invalid argument "nofile" for "--ulimit" flag: invalid ulimit argument: nofile`],
    [{ ulimit: ["bogus=1"] }, `invalid argument "bogus=1" for "--ulimit" flag: invalid ulimit type: bogus`],
    [{ ulimit: ["nofile=2048:1024"] }, `invalid argument "nofile=2048:1024" for "--ulimit" flag: ulimit soft limit must be less than or equal to hard limit: 2048 > 1024`],
    [{ ulimit: ["nofile=-1:1024"] }, `invalid argument "nofile=-1:1024" for "--ulimit" flag: ulimit soft limit must be less than or equal to hard limit: -1 > 1024`],
    [{ ulimit: ["nofile=a"] }, `invalid argument "nofile=a" for "--ulimit" flag: strconv.ParseInt: parsing "a": invalid syntax`],
    [{ ulimit: ["nofile=1:2:3"] }, "invalid argument \"nofile=1:2:3\" for \"--ulimit\" flag: too many limit value arguments - 1:2:3, can only have up to two, `soft[:hard]`"],
    [{ shmSize: "-1" }, "SHM size can not be less than 0"],
    [{ shmSize: "lots" }, `invalid argument "lots" for "--shm-size" flag: invalid size: 'lots'`],
  ];
  for (const [flags, message] of table) {
    assert.throws(() => run(flags), { message }, JSON.stringify(flags));
  }
  assert.throws(() => run({ memory: "5m" }), { name: "InvalidArgument" });
  assert.throws(() => run({ deviceReadIops: ["/dev/nope:10"] }), { name: "NotFound" });
  assert.equal(parseUlimit("rtprio=99").type, "RLIMIT_RTPRIO");
});

test("block device numbers come from stat(2) of the real node", () => {
  // Any block device of this machine: /sys/block/<name>/dev holds "major:minor".
  const name = readdirSync("/sys/block").find((n) => existsSync(`/dev/${n}`));
  assert.ok(name, "this machine has at least one block device node in /dev");
  const [major, minor] = readFileSync(`/sys/block/${name}/dev`, "utf8").trim().split(":").map(Number);
  assert.deepEqual(blockDeviceNumbers(`/dev/${name}`), { major, minor });
  const r = resourcesFromFlags({ deviceReadBps: [`/dev/${name}:1mb`] });
  assert.deepEqual(r.resources.blockIO?.throttleReadBpsDevice, [{ major, minor, rate: MiB }]);
  assert.throws(() => blockDeviceNumbers("/dev/null"), { name: "InvalidArgument", message: "/dev/null is not a block device" });
  assert.throws(() => resourcesFromFlags({ blkioWeightDevice: ["/dev/null:100"] }), { message: "/dev/null is not a block device" });
  assert.throws(() => blockDeviceNumbers("/dev/berth-no-such-dev"), { name: "NotFound", message: "/dev/berth-no-such-dev: no such file or directory" });
});

test("validation reads this host's online CPUs by default", () => {
  const online = readFileSync("/sys/devices/system/cpu/online", "utf8").trim();
  const last = Number(online.split(/[-,]/).pop());
  assert.throws(() => resourcesFromFlags({ cpusetCpus: String(last + 1) }), {
    message: `Requested CPUs are not available - requested ${last + 1}, available: ${online}`,
  });
  assert.deepEqual(resourcesFromFlags({ cpusetCpus: "0" }).resources.cpu, { cpus: "0" });
});
