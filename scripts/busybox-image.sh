#!/usr/bin/env bash
# Writes a busybox root filesystem as a tar stream to stdout, made from Debian's busybox-static:
# the one test and demo image berth needs, built locally (no registry on the internet is reached).
#   bash scripts/busybox-image.sh | berth import - busybox:latest
set -euo pipefail
BUSYBOX=/bin/busybox
[ -x "$BUSYBOX" ] || { echo "busybox-image: $BUSYBOX is missing: apt-get install busybox-static" >&2; exit 1; }
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,etc,proc,sys,dev,tmp,root,home,var,run,mnt}
chmod 1777 "$root/tmp"
install -m 0755 "$BUSYBOX" "$root/bin/busybox"
for applet in $("$BUSYBOX" --list-full); do
  [ -e "$root/$applet" ] && continue
  case "$applet" in
    bin/*) ln -s busybox "$root/$applet" ;;
    *) depth=$(($(tr -cd / <<<"$applet" | wc -c))); ln -s "$(printf '../%.0s' $(seq $depth))bin/busybox" "$root/$applet" ;;
  esac
done
printf 'root:x:0:0:root:/root:/bin/sh\ndaemon:x:1:1:daemon:/usr/sbin:/bin/false\nnobody:x:65534:65534:nobody:/home:/bin/false\n' >"$root/etc/passwd"
printf 'root:x:0:\ndaemon:x:1:\nnogroup:x:65534:\n' >"$root/etc/group"
tar -C "$root" --numeric-owner -c .
