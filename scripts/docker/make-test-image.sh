#!/usr/bin/env bash
# Build the image the tests run, with no registry: a rootfs of Debian's busybox-static
# with its applet links, /etc/passwd, /etc/group and /tmp, imported with `docker import`.
# The image has no ENTRYPOINT and CMD ["sh"], like the public busybox image.
#
# Idempotent: an image already tagged is kept. Prints the image name as the last line.
# Env: DOCKER_HOST (the daemon), DOCKER_CLI (default /usr/bin/docker), TEST_IMAGE
# (default interlink-test/busybox:1), BUSYBOX (default /bin/busybox).
set -euo pipefail

IMAGE="${TEST_IMAGE:-interlink-test/busybox:1}"
CLI="${DOCKER_CLI:-/usr/bin/docker}"
BUSYBOX="${BUSYBOX:-/bin/busybox}"

if "$CLI" image inspect "$IMAGE" >/dev/null 2>&1; then
  echo "$IMAGE"
  exit 0
fi
[[ -x "$BUSYBOX" ]] || { echo "make-test-image.sh: $BUSYBOX not found; run scripts/docker/install.sh" >&2; exit 1; }
banner="$("$BUSYBOX" --help 2>&1 || true)"
if [[ "$banner" != BusyBox* ]]; then
  echo "make-test-image.sh: $BUSYBOX is not a busybox binary" >&2
  exit 1
fi

root="$(mktemp -d)"
trap 'rm -rf "$root"' EXIT
mkdir -p "$root/bin" "$root/sbin" "$root/usr/bin" "$root/usr/sbin" "$root/etc" "$root/tmp" \
  "$root/root" "$root/home" "$root/var/www" "$root/proc" "$root/sys" "$root/dev"
# mktemp made the root 0700: a non-root user could not even reach /bin.
chmod 755 "$root"
chmod 1777 "$root/tmp"
cp "$BUSYBOX" "$root/bin/busybox"
# Applet links (sh, ls, nc, httpd, sleep, ...). Not `busybox --install -s`: it links to
# the absolute host path of the binary, which does not exist inside the image.
applets="$("$BUSYBOX" --list)"
for a in $applets; do
  [[ "$a" == busybox ]] || ln -s busybox "$root/bin/$a"
done
cat >"$root/etc/passwd" <<'PW'
root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/bin/false
nobody:x:65534:65534:nobody:/home:/bin/false
PW
cat >"$root/etc/group" <<'GR'
root:x:0:
daemon:x:1:
nogroup:x:65534:
GR
echo 'hosts: files dns' >"$root/etc/nsswitch.conf"

echo "[test-image] importing $IMAGE" >&2
tar -C "$root" --numeric-owner --owner=0 --group=0 -cf - . |
  "$CLI" import \
    --change 'CMD ["sh"]' \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --message 'interlink test image: Debian busybox-static' \
    - "$IMAGE" >/dev/null
echo "$IMAGE"
