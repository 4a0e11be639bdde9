#!/usr/bin/env bash
# Makes TorchSharp's native bridge load on systems whose libstdc++ lacks GLIBCXX_3.4.32 (Debian 12).
# Patches the build-output copy of libLibTorchSharp.so under $1 (never the NuGet cache); $2 is a scratch dir.
# A no-op where the system libstdc++ is new enough. See ../../README.md "TorchSharp on Debian 12".
set -euo pipefail
out_dir=$1
work_dir=$2
here=$(cd "$(dirname "$0")" && pwd)
version=GLIBCXX_3.4.32
shim=libstdcxx_compat_shim.so

libstdcxx=$(ldconfig -p | awk '/libstdc\+\+\.so\.6 .*x86-64/ {print $NF; exit}')
if [ -n "$libstdcxx" ] && grep -q "$version" "$libstdcxx"; then exit 0; fi

mapfile -t targets < <(find "$out_dir" -name libLibTorchSharp.so -type f 2>/dev/null)
[ ${#targets[@]} -gt 0 ] || exit 0

fail() { echo "error LSBUILD01: TorchSharp native fix: $*" >&2; exit 1; }
command -v g++ >/dev/null || fail "g++ is required (apt-get install g++)"
command -v patchelf >/dev/null || fail "patchelf is required (apt-get install patchelf)"

mkdir -p "$work_dir"
[ -f "$work_dir/$shim" ] || g++ -shared -fPIC -O2 -o "$work_dir/$shim" "$here/ios_base_library_init.cpp" || fail "building the shim failed"
[ -x "$work_dir/weaken_verneed" ] || gcc -O2 -o "$work_dir/weaken_verneed" "$here/weaken_verneed.c" || fail "building weaken_verneed failed"

for lib in "${targets[@]}"; do
  dir=$(dirname "$lib")
  cp -f "$work_dir/$shim" "$dir/$shim"
  rc=0; "$work_dir/weaken_verneed" "$lib" "$version" || rc=$?
  [ $rc -eq 0 ] || [ $rc -eq 3 ] || fail "could not mark $version weak in $lib"
  if ! patchelf --print-needed "$lib" | grep -qx "$shim"; then
    patchelf --add-needed "$shim" "$lib" || fail "patchelf --add-needed failed on $lib"
  fi
done
# A failed earlier run may have left TorchSharp's fallback copy of the natives behind.
rm -rf "$out_dir/cpu"
