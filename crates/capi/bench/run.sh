#!/bin/sh
# Builds libspawnfd (cargo build -p spawnfd-capi, release by default),
# installs it into a scratch prefix with install.sh (as a user without
# cargo-c would), compiles spawn_bench.c against it with cc -O2 and runs
# it with the arguments given (see spawn_bench.c, or --help):
#
#   crates/capi/bench/run.sh                       # 0 and 4 GiB, all contenders
#   crates/capi/bench/run.sh --mem 0 --iters 1000
#   crates/capi/bench/run.sh --build-only [--profile dev]   # compile, run nothing
#
# The program lands in TARGET/capi-bench/spawn_bench (TARGET is
# $CARGO_TARGET_DIR or the workspace's target/).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
target_dir=${CARGO_TARGET_DIR:-$root/target}
profile=release
build_only=false
while [ $# -gt 0 ]; do
  case $1 in
    --build-only) build_only=true; shift ;;
    --profile) profile=$2; shift 2 ;;
    --profile=*) profile=${1#*=}; shift ;;
    *) break ;;
  esac
done

cargo build --quiet --profile "$profile" -p spawnfd-capi --lib --manifest-path "$root/Cargo.toml" \
  --target-dir "$target_dir"
out=$target_dir/capi-bench/$profile
prefix=$out/prefix
rm -rf "$prefix"
sh "$here/../install.sh" --prefix "$prefix" --profile "$profile" --target-dir "$target_dir"
cc -std=c11 -O2 -Wall -Wextra -Werror \
  -I "$prefix/include/spawnfd" "$here/spawn_bench.c" -o "$out/spawn_bench" \
  -L "$prefix/lib" -Wl,-rpath,"$prefix/lib" -lspawnfd -ldl
if $build_only; then
  echo "built $out/spawn_bench"
  exit 0
fi
exec "$out/spawn_bench" "$@"
