#!/usr/bin/env bash
# Makes a local Docker base image for Doorstep where no image registry is reachable: a minimal
# Debian rootfs from debootstrap (Debian's mirror only), with THIS machine's Node.js copied in
# (the files of the `nodejs` package: node, npm, the headers node-gyp builds better-sqlite3 with),
# imported with `docker import`. The same node binary then builds the bundle and its V8 code cache
# and runs them, so the cache stays valid. It also has what the official node images have and the
# Dockerfile relies on: a `node` user (uid 1000) and ca-certificates; plus openssl (the Complement
# entrypoint makes its TLS certificate with it).
#
#   scripts/docker/make-base.sh [IMAGE]     (default doorstep-base:local; a no-op when it exists)
# Needs root, debootstrap and a running Docker engine. Env: DEBIAN_MIRROR, DEBIAN_SUITE.
set -euo pipefail
image="${1:-doorstep-base:local}"
mirror="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
suite="${DEBIAN_SUITE:-bookworm}"

if docker image inspect "$image" >/dev/null 2>&1; then
  echo "make-base: $image exists; kept"
  exit 0
fi
command -v debootstrap >/dev/null || { echo "make-base: debootstrap is missing (apt-get install debootstrap)" >&2; exit 1; }
node_bin="$(readlink -f "$(command -v node)")"

work="$(mktemp -d /var/tmp/doorstep-base.XXXXXX)"
trap 'rm -rf "$work"' EXIT
rootfs="$work/rootfs"
start=$SECONDS
debootstrap --variant=minbase --include=ca-certificates,openssl "$suite" "$rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 \
  || { tail -30 "$work/debootstrap.log" >&2; exit 1; }
echo "make-base: debootstrap $suite: $((SECONDS - start)) s"

# Node: the binary, the global node_modules (npm as it is now: it may have been upgraded since the
# package was installed) and the headers, under the same prefix as here.
prefix="$(dirname "$(dirname "$node_bin")")"
mkdir -p "$rootfs$prefix/bin" "$rootfs$prefix/lib" "$rootfs$prefix/include"
cp -a "$node_bin" "$rootfs$prefix/bin/node"
if [ -d "$prefix/lib/node_modules" ]; then
  rm -rf "$rootfs$prefix/lib/node_modules"
  cp -a "$prefix/lib/node_modules" "$rootfs$prefix/lib/"
fi
[ -d "$prefix/include/node" ] && cp -a "$prefix/include/node" "$rootfs$prefix/include/"
ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$rootfs$prefix/bin/npm"
ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$rootfs$prefix/bin/npx"
# The CAs this machine adds to Debian's (an egress proxy's, say): the image reaches Debian's mirror and
# the npm registry as the host does. npm gets the system bundle as its cafile (Node itself uses its own
# store), and node-gyp builds native addons against the copied headers instead of downloading them.
if compgen -G '/usr/local/share/ca-certificates/*.crt' >/dev/null; then
  cp /usr/local/share/ca-certificates/*.crt "$rootfs/usr/local/share/ca-certificates/"
  chroot "$rootfs" update-ca-certificates >/dev/null 2>&1
fi
mkdir -p "$rootfs$prefix/etc"
{
  echo "cafile=/etc/ssl/certs/ca-certificates.crt"
  [ -d "$rootfs$prefix/include/node" ] && echo "nodedir=$prefix"
  printf 'fund=false\naudit=false\nupdate-notifier=false\n'
} >"$rootfs$prefix/etc/npmrc"
chroot "$rootfs" node --version >/dev/null
chroot "$rootfs" groupadd --gid 1000 node
chroot "$rootfs" useradd --uid 1000 --gid node --shell /bin/bash --create-home node
chroot "$rootfs" apt-get clean
rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin "$rootfs"/tmp/* "$rootfs"/var/log/*.log

tar -C "$rootfs" -c . | docker import \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'CMD ["node"]' \
  --message "debootstrap $suite + node $(node --version) from this machine" - "$image" >/dev/null
echo "make-base: $image ($suite, node $(node --version)): $((SECONDS - start)) s"
