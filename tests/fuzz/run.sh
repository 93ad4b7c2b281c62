#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan + UBSan) in their own build
# directory -- the main gcc build is left alone -- then, for each target,
#   1. replays every file of its corpus once (what CI checks), and
#   2. fuzzes for FUZZ_SECONDS (default 30; 0 skips it), starting from the
#      corpus; new inputs go to a scratch directory, never into the repo.
# Targets and their corpora:
#   fuzz_request   tests/fuzz/corpus           request bodies (request.dict)
#   fuzz_document  tests/fuzz/corpus_document  sandbox result documents (document.dict)
# A crash leaves its input in $FUZZ_ARTIFACTS (default <build dir>/artifacts).
#
# Environment: FUZZ_BUILD_DIR (default build-fuzz), FUZZ_SECONDS (per target),
# FUZZ_TARGETS (default both), FUZZ_CXX / FUZZ_CC (default clang++ / clang,
# else clang++-14 / clang-14).
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
targets=(${FUZZ_TARGETS:-fuzz_request fuzz_document})
echo "fuzz: building ${targets[*]}"
cmake --build "$build_dir" --target "${targets[@]}" -j"$(nproc)" >/dev/null

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
artifacts=${FUZZ_ARTIFACTS:-$build_dir/artifacts}
mkdir -p "$artifacts"
scratch_root=$(mktemp -d "${TMPDIR:-/tmp}/warmjail-fuzz.XXXXXX")
trap 'rm -rf "$scratch_root"' EXIT

status=0
for target in "${targets[@]}"; do
  case $target in
    fuzz_request) corpus_dir=$here/corpus; dict=$here/request.dict ;;
    fuzz_document) corpus_dir=$here/corpus_document; dict=$here/document.dict ;;
    *) echo "fuzz: unknown target $target" >&2; exit 1 ;;
  esac
  fuzzer=$build_dir/tests/$target
  [ -x "$fuzzer" ] || { echo "fuzz: $fuzzer was not built (is -fsanitize=fuzzer available?)" >&2; exit 1; }

  # Replay: one process per file, so that one crashing input does not hide
  # the others (libFuzzer stops at the first crash).
  corpus=("$corpus_dir"/*)
  echo "fuzz: $target: replaying ${#corpus[@]} corpus files"
  failed=()
  for f in "${corpus[@]}"; do
    if ! "$fuzzer" -rss_limit_mb=4096 -timeout=20 "$f" >"$artifacts/$target.replay.log" 2>&1; then
      echo "fuzz: $target: FAILED on corpus file $(basename "$f"):" >&2
      grep -E "ERROR|SUMMARY|invariant|#[0-9] " "$artifacts/$target.replay.log" | head -12 >&2 || true
      failed+=("$(basename "$f")")
    fi
  done

  if [ "$seconds" -gt 0 ]; then
    scratch=$scratch_root/$target
    mkdir -p "$scratch"
    # Seeds: the corpus minus the files that already crash (those are
    # reported above and would stop the run at once).
    for f in "${corpus[@]}"; do
      skip=0
      for bad in "${failed[@]+"${failed[@]}"}"; do [ "$(basename "$f")" = "$bad" ] && skip=1; done
      [ $skip -eq 1 ] || cp "$f" "$scratch/"
    done
    echo "fuzz: $target: fuzzing for $seconds s"
    set +e
    "$fuzzer" -max_total_time="$seconds" -max_len=16384 -timeout=20 -rss_limit_mb=4096 \
      -dict="$dict" -artifact_prefix="$artifacts/$target-" -print_final_stats=1 \
      "$scratch" >"$artifacts/$target.fuzz.log" 2>&1
    rc=$?
    set -e
    tail -n 40 "$artifacts/$target.fuzz.log"
    if [ $rc -ne 0 ]; then
      echo "fuzz: $target: the fuzzer found a crash (input in $artifacts)" >&2
      status=1
    fi
  fi
  if [ ${#failed[@]} -gt 0 ]; then
    echo "fuzz: $target: ${#failed[@]} corpus file(s) crash the target: ${failed[*]}" >&2
    status=1
  fi
done
[ $status -eq 0 ] && echo "fuzz: ok"
exit $status
