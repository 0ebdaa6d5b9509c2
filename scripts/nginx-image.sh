#!/usr/bin/env bash
# Writes an nginx root filesystem as a tar stream to stdout: Debian's nginx and nginx-common
# packages (fetched from the package mirror with apt-get download, nothing else from the network)
# unpacked over the busybox rootfs, with the shared libraries nginx links taken from this host.
# The site is Debian's default one, so the container answers with "Welcome to nginx!".
#   bash scripts/nginx-image.sh | berth import --change 'CMD ["nginx","-g","daemon off;"]' --change 'EXPOSE 80' - nginx:local
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
root="$work/root"
mkdir -p "$root" "$work/debs"
bash "$here/busybox-image.sh" | tar -C "$root" -x
(cd "$work/debs" && apt-get download -qq nginx nginx-common >/dev/null 2>&1) || {
  apt-get update -qq >/dev/null && (cd "$work/debs" && apt-get download -qq nginx nginx-common >/dev/null)
}
for d in "$work"/debs/*.deb; do dpkg-deb -x "$d" "$root"; done
# The libraries nginx links, as this host has them (the same Debian release as the packages).
for lib in $(ldd "$root/usr/sbin/nginx" | grep -o '/[^ ]*'); do
  mkdir -p "$root$(dirname "$lib")"
  cp -L "$lib" "$root$lib"
done
# What the packages' maintainer scripts would have done.
mkdir -p "$root/etc/nginx/sites-enabled" "$root/var/www/html" "$root/var/log/nginx" "$root/var/lib/nginx" "$root/run"
ln -sf /etc/nginx/sites-available/default "$root/etc/nginx/sites-enabled/default"
cp "$root/usr/share/nginx/html/index.html" "$root/var/www/html/index.nginx-debian.html"
echo 'www-data:x:33:33:www-data:/var/www:/bin/false' >>"$root/etc/passwd"
echo 'www-data:x:33:' >>"$root/etc/group"
tar -C "$root" --numeric-owner -c .
