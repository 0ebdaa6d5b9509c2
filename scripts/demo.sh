#!/usr/bin/env bash
# berth's main job, end to end, on a fresh Debian 12 machine (run as root):
#   set up → build a busybox image locally → push it to a registry on 127.0.0.1 → pull it back by
#   running it → a container with a memory, CPU and pids limit → the limit enforced (OOM kill, CPU
#   throttling) → stats → the seeds' `run -d -p 8080:80 nginx` answering curl. berthd is started by the first `berth` command and keeps running after
#   the demo, like dockerd (stop it with: kill "$(cat /run/berth/berthd.pid)").
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "demo: run as root (berth creates namespaces and cgroups)" >&2; exit 1; }

bash scripts/setup.sh >/dev/null
export PATH="$PWD/bin:$PATH"
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
show() { printf '$ %s\n' "$*"; "$@"; }

work=$(mktemp -d)
reg_pid=""
cleanup() {
  berth rm -f berth-demo-oom berth-demo-cpu berth-demo-web >/dev/null 2>&1 || true
  [ -n "$reg_pid" ] && kill "$reg_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

say "berth and berthd"
show berth version

say "a busybox image, built from Debian's busybox-static"
bash scripts/busybox-image.sh | berth import - busybox:latest >/dev/null
show berth images busybox

say "a registry on 127.0.0.1 (Debian's docker-registry), push, and pull back"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat >"$work/registry.yml" <<EOF
version: 0.1
storage:
  filesystem:
    rootdirectory: $work/registry
http:
  addr: 127.0.0.1:$port
log:
  level: error
EOF
/usr/bin/docker-registry serve "$work/registry.yml" >"$work/registry.log" 2>&1 &
reg_pid=$!
for _ in $(seq 50); do curl -fs "http://127.0.0.1:$port/v2/" >/dev/null 2>&1 && break; sleep 0.1; done
image="127.0.0.1:$port/demo/busybox:1"
show berth tag busybox "$image"
show berth push "$image"
show berth rmi "$image"

say "run it (pulled from the registry): isolated, and limited by -m 64m --cpus 0.5 --pids-limit 64"
show berth run --rm -m 64m --cpus 0.5 --pids-limit 64 "$image" sh -c '
  echo "memory limit: $(cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max)"
  echo "cpu quota:    $(cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us 2>/dev/null || cat /sys/fs/cgroup/cpu.max)"
  echo "pids limit:   $(cat /sys/fs/cgroup/pids/pids.max)"
  echo "hostname: $(hostname); my pid: $$ (PID 1 of its own namespace)"
  echo "processes it can see:"; ps -o pid,user,args
  echo "its network, in its own namespace (eth0 on berth0, the default bridge):"; ip -4 -o addr show | sed "s/^/  /"'

say "the memory limit enforced: 100 MB into a 32 MiB container"
set +e
berth run --name berth-demo-oom -m 32m --memory-swap 32m busybox sh -c 'x=$(head -c 100000000 /dev/zero | tr "\0" a); echo survived'
code=$?
set -e
echo "exit code: $code; OOMKilled: $(berth inspect -f '{{.State.OOMKilled}}' berth-demo-oom)"
berth rm berth-demo-oom >/dev/null

say "the CPU limit enforced: a busy loop under --cpus 0.5 for 3 seconds"
berth run -d --name berth-demo-cpu --cpus 0.5 busybox sh -c 'while :; do :; done' >/dev/null
sleep 3
show berth stats --no-stream berth-demo-cpu
berth exec berth-demo-cpu cat /sys/fs/cgroup/cpu/cpu.stat 2>/dev/null | sed 's/^/cpu.stat: /' || true
berth rm -f berth-demo-cpu >/dev/null

say "the seeds' nginx: Debian's nginx package as a local image, published with -p, reached with curl"
bash scripts/nginx-image.sh | berth import --change 'CMD ["nginx","-g","daemon off;"]' --change 'EXPOSE 80' - nginx:local >/dev/null
web=8080
python3 -c 'import socket; s=socket.socket(); s.bind(("0.0.0.0", 8080))' 2>/dev/null || web=0
show berth run -d --name berth-demo-web -p "$web:80" nginx:local
hostport=$(berth port berth-demo-web 80 | sed 's/.*://')
show berth ps --filter name=berth-demo-web
for _ in $(seq 50); do curl -fs "http://localhost:$hostport" >/dev/null && break; sleep 0.1; done
printf '$ curl -s http://localhost:%s | grep title\n' "$hostport"; curl -s "http://localhost:$hostport" | grep '<title>'
berth rm -f berth-demo-web >/dev/null

say "done: berthd keeps running (berth ps, berth run -it busybox sh, ...); stop it with: kill \$(cat /run/berth/berthd.pid)"
