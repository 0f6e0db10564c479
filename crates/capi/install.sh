#!/bin/sh
# Installs libspawnfd as `cargo cinstall` lays it out, from a plain
# `cargo build -p spawnfd-capi` (for machines without cargo-c):
#
#   cargo build --release -p spawnfd-capi
#   crates/capi/install.sh --prefix /usr/local [--libdir DIR] [--destdir DIR] [--profile release]
#
# PREFIX/lib/libspawnfd.so.0.1.0, its links libspawnfd.so.0 (the soname)
# and libspawnfd.so, PREFIX/lib/libspawnfd.a,
# PREFIX/include/spawnfd/spawnfd.h, PREFIX/include/spawnfd/forkfd.h,
# PREFIX/include/spawnfd/spawnfd_spawn.h and PREFIX/lib/pkgconfig/spawnfd.pc.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
prefix=/usr/local
libdir=
destdir=
profile=release
target_dir=${CARGO_TARGET_DIR:-$here/../../target}
while [ $# -gt 0 ]; do
  case $1 in
    --prefix) prefix=$2; shift 2 ;;
    --prefix=*) prefix=${1#*=}; shift ;;
    --libdir) libdir=$2; shift 2 ;;
    --libdir=*) libdir=${1#*=}; shift ;;
    --destdir) destdir=$2; shift 2 ;;
    --destdir=*) destdir=${1#*=}; shift ;;
    --profile) profile=$2; shift 2 ;;
    --profile=*) profile=${1#*=}; shift ;;
    --target-dir) target_dir=$2; shift 2 ;;
    --target-dir=*) target_dir=${1#*=}; shift ;;
    *) echo "install.sh: unknown argument: $1" >&2; exit 2 ;;
  esac
done
[ -n "$libdir" ] || libdir=$prefix/lib
case $profile in dev) profile=debug ;; esac
built=$target_dir/$profile
version=$(sed -n 's/^version = "\(.*\)"$/\1/p' "$here/Cargo.toml" | head -n 1)
major=${version%%.*}
for f in libspawnfd.so libspawnfd.a; do
  [ -f "$built/$f" ] || { echo "install.sh: $built/$f is missing: run cargo build -p spawnfd-capi${profile:+ --profile $profile} first" >&2; exit 1; }
done

lib=$destdir$libdir
inc=$destdir$prefix/include/spawnfd
pc=$lib/pkgconfig
mkdir -p "$lib" "$inc" "$pc"
install -m 755 "$built/libspawnfd.so" "$lib/libspawnfd.so.$version"
ln -sf "libspawnfd.so.$version" "$lib/libspawnfd.so.$major"
ln -sf "libspawnfd.so.$major" "$lib/libspawnfd.so"
install -m 644 "$built/libspawnfd.a" "$lib/libspawnfd.a"
install -m 644 "$here/include/spawnfd.h" "$inc/spawnfd.h"
# Qt's forkfd API, beside it: `#include <forkfd.h>` with the .pc's cflags.
install -m 644 "$here/include/forkfd.h" "$inc/forkfd.h"
# posix_spawn's API: `#include <spawnfd_spawn.h>` in place of <spawn.h>.
install -m 644 "$here/include/spawnfd_spawn.h" "$inc/spawnfd_spawn.h"
# What a static link needs besides the archive (rustc's
# --print native-static-libs for this target).
cat > "$pc/spawnfd.pc" <<PC
prefix=$prefix
exec_prefix=\${prefix}
libdir=$libdir
includedir=\${prefix}/include

Name: spawnfd
Description: Race-free, vfork-speed process spawning on Linux: the child is a pidfd
Version: $version
Libs: -L\${libdir} -lspawnfd
Cflags: -I\${includedir}/spawnfd
Libs.private: -lgcc_s -lutil -lrt -lpthread -lm -ldl -lc
PC
