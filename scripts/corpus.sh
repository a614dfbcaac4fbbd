#!/usr/bin/env bash
# The real-data corpus of the tests and benchmarks: a Debian debug kernel (unstripped vmlinux with
# full DWARF, every module unstripped with its relocations, and modules.order), downloaded with
# apt once and unpacked into
#
#   ${KBUILD_LINEINFO_CORPUS:-${XDG_CACHE_HOME:-~/.cache}/kbuild-lineinfo/corpus}/FLAVOUR/
#       vmlinux  modules/  modules.order  kernel-version  .complete
#       boot/vmlinuz-REL  boot/System.map-REL    (the installed kernel: Debian's placeholder map)
#
# (modules.order lists paths relative to modules/). Later calls only print the paths:
#
#   scripts/corpus.sh [FLAVOUR]     # default cloud
#   scripts/corpus.sh --list        # the flavours
#
# prints, one per line: KERNEL_VERSION=… KERNEL_ARCH=… VMLINUX=… MODULES_DIR=… MODULES_ORDER=…
# VMLINUZ=… (the image package's /boot/vmlinuz-REL; a tree made before it was kept gets it on the
# next call, a failure to get it is a warning and VMLINUZ= stays empty)
# and exits non-zero with a one-line reason when the corpus cannot be had. Callers assign the
# output first, so that `set -e` stops them on a failure, and only then evaluate it:
#
#   corpus=$(scripts/corpus.sh cloud)
#   eval "$corpus"
#
# Needs apt-get and dpkg-deb (Debian or Ubuntu with Debian's archive). Runs `apt-get update`
# (root) when the lists do not know the package; a foreign-architecture flavour also needs
# `dpkg --add-architecture` (root), done here when missing. A tree unpacked by hand into the
# same layout is used as it is once it has .complete, and never replaced.
set -euo pipefail

# FLAVOUR  ARCH  SUITE  META-PACKAGE (its Depends names the versioned -dbg package; the
# -unsigned twin of that package, or the image package itself where there is no signed one,
# carries modules.order)  SIZE (download / unpacked, for the message).
# SUITE `-` is the machine's own apt sources; a Debian release name (Debian 13's riscv64 is in
# no Debian 12 archive) is read through a private, download-only apt configuration under
# $root/.apt-SUITE, on the machine's own Debian mirrors: nothing is installed from it and the
# system's sources are not touched. Adding a flavour is one line.
flavours() {
  cat <<'EOF'
cloud    amd64    -       linux-image-6.12-cloud-amd64-dbg  0.35/1.9 GB, 1,138 modules
full     amd64    -       linux-image-6.12-amd64-dbg        1.1/6.9 GB, ~4,230 modules
arm64    arm64    -       linux-image-6.12-arm64-dbg        1.1/6.8 GB, foreign architecture
riscv64  riscv64  trixie  linux-image-riscv64-dbg           1.1/8.5 GB, Debian 13, foreign architecture
EOF
}

die() { echo "corpus.sh: $*" >&2; exit 1; }

if [ "${1:-}" = --list ]; then flavours; exit 0; fi
[ $# -le 1 ] || die "usage: scripts/corpus.sh [FLAVOUR|--list]"
flavour=${1:-cloud}
row=$(flavours | awk -v f="$flavour" '$1 == f')
[ -n "$row" ] || die "unknown flavour '$flavour' (known: $(flavours | awk '{print $1}' | paste -sd' '))"
read -r _ arch suite meta _ <<<"$row"

cache=${XDG_CACHE_HOME:-}
case "$cache" in /*) ;; *) cache=$HOME/.cache ;; esac # a relative XDG_CACHE_HOME is ignored
root=${KBUILD_LINEINFO_CORPUS:-$cache/kbuild-lineinfo/corpus}
dest=$root/$flavour

print_paths() {
  echo "KERNEL_VERSION=$(cat "$dest/kernel-version")"
  echo "KERNEL_ARCH=$arch"
  # Empty for a module tree unpacked by hand without its vmlinux.
  if [ -f "$dest/vmlinux" ]; then echo "VMLINUX=$dest/vmlinux"; else echo "VMLINUX="; fi
  echo "MODULES_DIR=$dest/modules"
  echo "MODULES_ORDER=$dest/modules.order"
  local z
  z=$(find "$dest/boot" -maxdepth 1 -name 'vmlinuz-*' 2>/dev/null | head -n 1 || true)
  echo "VMLINUZ=$z"
}

# The boot/ of the image package $img (vmlinuz-REL, System.map-REL) out of the unpacked tree
# $1 into $2/boot.
keep_boot() {
  [ -d "$1/boot" ] || return 0
  mkdir -p "$2/boot.new" &&
    find "$1/boot" -maxdepth 1 \( -name 'vmlinuz-*' -o -name 'System.map-*' \) -exec mv {} "$2/boot.new/" \; &&
    mv -T "$2/boot.new" "$2/boot"
}

# A tree made before boot/ was kept: the image package alone adds it (below).
boot_only=
if [ -f "$dest/.complete" ]; then
  if [ -d "$dest/boot" ] || [ -f "$dest/.no-boot" ]; then
    print_paths
    exit 0
  fi
  boot_only=1
fi
# This script only ever renames a finished tree into place, marker included: a tree without the
# marker was put there by someone else, and is not ours to replace.
[ -n "$boot_only" ] || [ ! -e "$dest" ] ||
  die "$dest exists without .complete (unpacked by hand?): touch $dest/.complete if it is complete, else remove it"

for c in apt-get apt-cache dpkg dpkg-deb flock; do
  command -v "$c" >/dev/null || die "needs $c (a Debian or Ubuntu machine) to fetch the $flavour corpus"
done
mkdir -p "$root" || die "cannot create $root"
# One download at a time per flavour; a second caller waits and then finds .complete.
exec 9>"$root/.lock-$flavour"
flock 9
if [ -f "$dest/.complete" ] && { [ -d "$dest/boot" ] || [ -f "$dest/.no-boot" ]; }; then
  print_paths
  exit 0
fi

as_root() {
  [ "$(id -u)" = 0 ] || die "the $flavour corpus needs '$*' first, which needs root"
  "$@" >&2 || die "'$*' failed"
}

# Another Debian release: a private apt configuration whose sources are that release on the
# mirrors the machine already uses for its own (read from `apt-cache policy`).
if [ "$suite" != - ]; then
  # shellcheck source=/dev/null
  mine=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
  [ -n "$mine" ] || die "cannot tell this machine's Debian release (/etc/os-release) to find its mirrors"
  mirror() { # the URI apt uses for "$mine$1/main"
    { apt-cache policy 2>/dev/null || true; } |
      awk -v want="$mine$1/main" '$3 == want && !done {print $2; done = 1}'
  }
  main_uri=$(mirror "")
  security_uri=$(mirror -security)
  [ -n "$main_uri" ] || die "no $mine/main archive in this machine's apt sources to fetch $suite from"
  apt_dir=$root/.apt-$suite
  mkdir -p "$apt_dir/state/lists/partial" "$apt_dir/cache/archives/partial" "$apt_dir/empty" ||
    die "cannot create $apt_dir"
  : >"$apt_dir/state/status"
  key=/usr/share/keyrings/debian-archive-keyring.gpg
  [ -f "$key" ] || die "needs $key (package debian-archive-keyring)"
  {
    echo "deb [arch=$arch signed-by=$key] $main_uri $suite main"
    [ -z "$security_uri" ] || echo "deb [arch=$arch signed-by=$key] $security_uri $suite-security main"
  } >"$apt_dir/sources.list"
  cat >"$apt_dir/apt.conf" <<EOF
Dir::State "$apt_dir/state";
Dir::State::status "$apt_dir/state/status";
Dir::Cache "$apt_dir/cache";
Dir::Etc::SourceList "$apt_dir/sources.list";
Dir::Etc::SourceParts "$apt_dir/empty";
Dir::Etc::Preferences "$apt_dir/empty/preferences";
Dir::Etc::PreferencesParts "$apt_dir/empty";
APT::Architecture "$arch";
APT::Architectures { "$arch"; };
EOF
  export APT_CONFIG=$apt_dir/apt.conf
  echo "corpus.sh: reading Debian $suite's package lists ($arch) into $apt_dir" >&2
  # One index that fails (a mirror mid-sync) must not stop the rest: the package look-up below
  # says so if the lists that did arrive lack it.
  apt-get update -q=2 -o APT::Sandbox::User=root >&2 ||
    echo "corpus.sh: apt-get update of Debian $suite reported the errors above; going on with the lists it got" >&2
elif [ "$arch" != "$(dpkg --print-architecture)" ] &&
  ! dpkg --print-foreign-architectures | grep -x "$arch" >/dev/null; then
  echo "corpus.sh: adding the $arch architecture to apt (dpkg --add-architecture $arch)" >&2
  as_root dpkg --add-architecture "$arch"
  as_root apt-get update -qq
fi

# The versioned -dbg package behind the meta package, e.g. linux-image-6.12.117+deb12-cloud-amd64-dbg.
# (No early exit in the awk programs below: under pipefail the writer's SIGPIPE would end the
# script without a word.)
resolve() {
  { apt-cache depends "$meta:$arch" 2>/dev/null || true; } |
    awk '$1 == "Depends:" && !done {sub(/:.*/, "", $2); print $2; done = 1}'
}
dbg=$(resolve)
if [ -z "$dbg" ] && [ "$suite" = - ]; then
  echo "corpus.sh: the apt lists do not know $meta ($arch): apt-get update" >&2
  as_root apt-get update -qq
  dbg=$(resolve)
fi
[ -n "$dbg" ] || die "no package behind $meta ($arch) in the apt lists (is Debian's archive with bookworm-security or newer in the sources?)"
img=${dbg%-dbg}-unsigned
# Architectures without signed images (riscv64) have no -unsigned twin: the image package itself.
version_of() { { apt-cache show "$1:$arch" 2>/dev/null || true; } | awk '/^Version:/ {v = $2} END {print v}'; }
[ -n "$(version_of "$img")" ] || img=${dbg%-dbg}

# Room for the downloads and the unpacked tree (Installed-Size is in KiB).
need_kb=$({ apt-cache show "$dbg:$arch" "$img:$arch" 2>/dev/null || true; } |
  awk '/^Installed-Size:/ {s += $2} /^Size:/ {d += $2 / 1024} END {printf "%d", s + d}')
free_kb=$(df -Pk "$root" | awk 'NR == 2 {print $4}')
[ "${need_kb:-0}" -lt "$free_kb" ] ||
  die "the $flavour corpus needs $((need_kb / 1048576 + 1)) GB in $root, $((free_kb / 1048576)) GB free (set KBUILD_LINEINFO_CORPUS elsewhere)"

work=$root/.download-$flavour
rm -rf "$work"
mkdir -p "$work/x"
if [ -n "$boot_only" ]; then
  echo "corpus.sh: adding the installed kernel (boot/ of $img) to $dest" >&2
  if (cd "$work" && apt-get download -q=2 -o APT::Sandbox::User=root "$img:$arch") >&2 &&
    dpkg-deb -x "$work"/*.deb "$work/x" && keep_boot "$work/x" "$dest"; then
    [ -d "$dest/boot" ] || touch "$dest/.no-boot"
  else
    echo "corpus.sh: warning: could not add boot/ of $img; VMLINUZ stays empty" >&2
  fi
  rm -rf "$work"
  print_paths
  exit 0
fi
echo "corpus.sh: downloading $dbg and $img ($arch; $(awk '{$1 = $2 = $3 = $4 = ""; sub(/^ +/, ""); print}' <<<"$row")) into $root" >&2
(cd "$work" && apt-get download -q=2 -o APT::Sandbox::User=root "$dbg:$arch" "$img:$arch") >&2 ||
  die "apt-get download $dbg:$arch $img:$arch failed (network, apt sources?)"
for deb in "$work"/*.deb; do
  dpkg-deb -x "$deb" "$work/x" || die "dpkg-deb -x $deb failed"
done

# Debian 12 puts the trees under lib/modules, later releases under usr/lib/modules.
kver=$({ find "$work/x/usr/lib/debug/boot" -maxdepth 1 -name 'vmlinux-*' -printf '%f\n' 2>/dev/null || true; } |
  sed -n '1s/^vmlinux-//p')
[ -n "$kver" ] || die "$dbg has no usr/lib/debug/boot/vmlinux-*"
debug_mods=
for d in "$work/x/usr/lib/debug/lib/modules/$kver/kernel" "$work/x/usr/lib/debug/usr/lib/modules/$kver/kernel"; do
  [ -d "$d" ] && debug_mods=$d
done
[ -n "$debug_mods" ] || die "$dbg has no debug module tree for $kver"
order=
for f in "$work/x/lib/modules/$kver/modules.order" "$work/x/usr/lib/modules/$kver/modules.order" \
  "$(dirname "$debug_mods")/modules.order"; do
  [ -f "$f" ] && order=$f
done
[ -n "$order" ] || die "$img has no modules.order for $kver"

new=$work/tree
mkdir -p "$new"
mv "$work/x/usr/lib/debug/boot/vmlinux-$kver" "$new/vmlinux"
mv "$debug_mods" "$new/modules"
# modules.order names kernel/…/foo.ko (or foo.o) relative to /lib/modules/$kver: make it
# relative to modules/.
sed -e 's#^kernel/##' -e 's#\.o$#.ko#' "$order" >"$new/modules.order"
listed=$(grep -c . "$new/modules.order" || true)
present=0
while read -r ko; do [ -f "$new/modules/$ko" ] && present=$((present + 1)); done <"$new/modules.order"
if [ "$present" = 0 ] || [ "$present" != "$listed" ]; then
  die "only $present of the $listed modules of modules.order are in $dbg"
fi
keep_boot "$work/x" "$new" || die "cannot keep boot/ of $img"
echo "$kver" >"$new/kernel-version"
touch "$new/.complete"
mv -T "$new" "$dest"
rm -rf "$work"
echo "corpus.sh: $flavour corpus ready: $kver, $listed modules, in $dest" >&2
print_paths
