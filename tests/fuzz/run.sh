#!/usr/bin/env bash
# Builds the libFuzzer target tests/fuzz/fuzz_request with clang (ASan + UBSan)
# in its own build directory -- the main gcc build is left alone -- then
#   1. replays every file of tests/fuzz/corpus once (what CI checks), and
#   2. fuzzes for FUZZ_SECONDS (default 30; 0 skips it), starting from the
#      corpus; new inputs go to a scratch directory, never into the repo.
# A crash leaves its input in $FUZZ_ARTIFACTS (default <build dir>/artifacts).
#
# Environment: FUZZ_BUILD_DIR (default build-fuzz), FUZZ_SECONDS,
# FUZZ_CXX / FUZZ_CC (default clang++ / clang, else clang++-14 / clang-14).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
build_dir=${FUZZ_BUILD_DIR:-$repo/build-fuzz}
seconds=${FUZZ_SECONDS:-30}

pick() { for c in "$@"; do if command -v "$c" >/dev/null 2>&1; then command -v "$c"; return 0; fi; done; return 1; }
cxx=${FUZZ_CXX:-$(pick clang++ clang++-14 || true)}
cc=${FUZZ_CC:-$(pick clang clang-14 || true)}
if [ -z "$cxx" ] || [ -z "$cc" ]; then
  echo "fuzz: clang not found (scripts/install-deps installs clang-14 and libclang-rt-14-dev)" >&2
  exit 1
fi

flags="-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
echo "fuzz: configuring $build_dir with $cxx"
CC=$cc CXX=$cxx cmake -S "$repo" -B "$build_dir" \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DPython3_EXECUTABLE=/usr/bin/python3.11 \
  -DWARMJAIL_FUZZ_BUILD=ON \
  -DCMAKE_CXX_FLAGS="$flags" >/dev/null
echo "fuzz: building fuzz_request"
cmake --build "$build_dir" --target fuzz_request -j"$(nproc)" >/dev/null
fuzzer=$build_dir/tests/fuzz_request
[ -x "$fuzzer" ] || { echo "fuzz: $fuzzer was not built (is -fsanitize=fuzzer available?)" >&2; exit 1; }

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
artifacts=${FUZZ_ARTIFACTS:-$build_dir/artifacts}
mkdir -p "$artifacts"

# Replay: one process per file, so that one crashing input does not hide the
# others (libFuzzer stops at the first crash).
corpus=("$here"/corpus/*)
echo "fuzz: replaying ${#corpus[@]} corpus files"
failed=()
for f in "${corpus[@]}"; do
  if ! "$fuzzer" -rss_limit_mb=4096 -timeout=20 "$f" >"$artifacts/replay.log" 2>&1; then
    echo "fuzz: FAILED on corpus file $(basename "$f"):" >&2
    grep -E "ERROR|SUMMARY|invariant|#[0-9] " "$artifacts/replay.log" | head -12 >&2 || true
    failed+=("$(basename "$f")")
  fi
done

if [ "$seconds" -gt 0 ]; then
  scratch=$(mktemp -d "${TMPDIR:-/tmp}/warmjail-fuzz.XXXXXX")
  trap 'rm -rf "$scratch"' EXIT
  # Seeds: the corpus minus the files that already crash (those are
  # reported above and would stop the run at once).
  for f in "${corpus[@]}"; do
    skip=0
    for bad in "${failed[@]+"${failed[@]}"}"; do [ "$(basename "$f")" = "$bad" ] && skip=1; done
    [ $skip -eq 1 ] || cp "$f" "$scratch/"
  done
  echo "fuzz: fuzzing for $seconds s"
  set +e
  "$fuzzer" -max_total_time="$seconds" -max_len=16384 -timeout=20 -rss_limit_mb=4096 \
    -dict="$here/request.dict" -artifact_prefix="$artifacts/" -print_final_stats=1 \
    "$scratch" >"$artifacts/fuzz.log" 2>&1
  rc=$?
  set -e
  tail -n 40 "$artifacts/fuzz.log"
  [ $rc -eq 0 ] || { echo "fuzz: the fuzzer found a crash (input in $artifacts)" >&2; exit 1; }
fi
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: ${#failed[@]} corpus file(s) crash the target: ${failed[*]}" >&2
  exit 1
fi
echo "fuzz: ok"
