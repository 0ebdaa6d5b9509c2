import { test } from "node:test";
import assert from "node:assert/strict";
import { hostsFile, resolvConf } from "./container-files.js";

test("resolv.conf drops loopback resolvers and honours --dns, --dns-search, --dns-option", () => {
  const host = "nameserver 127.0.0.53\nnameserver 192.0.2.53\nsearch example.org\noptions ndots:2\n";
  assert.equal(resolvConf(host, {}), "search example.org\nnameserver 192.0.2.53\noptions ndots:2\n");
  assert.equal(resolvConf("nameserver 127.0.0.1\n", {}), "nameserver 8.8.8.8\nnameserver 8.8.4.4\n");
  assert.equal(resolvConf(host, { dns: ["10.0.0.2"], dnsSearch: ["a.b"], dnsOptions: ["rotate"] }), "search a.b\nnameserver 10.0.0.2\noptions rotate\n");
  assert.match(resolvConf(host, { hostNetwork: true }), /nameserver 127\.0\.0\.53/);
});

test("/etc/hosts has localhost, extra hosts and the container's own name", () => {
  const text = hostsFile({ hostname: "c1", address: "172.30.0.2", extraHosts: ["db:10.1.1.1", "api=10.1.1.2"] });
  assert.match(text, /^127\.0\.0\.1\tlocalhost$/m);
  assert.match(text, /^10\.1\.1\.1\tdb$/m);
  assert.match(text, /^10\.1\.1\.2\tapi$/m);
  assert.match(text, /^172\.30\.0\.2\tc1$/m);
});
