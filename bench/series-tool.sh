#!/usr/bin/env bash
# Builds the series' own C tool, scripts/gen_lineinfo, for side-by-side figures (sourced by
# bench/bench.sh; not part of the product, which never needs the series' files).
#
#   source bench/series-tool.sh
#   tool=$(series_tool DIR v1|v7)    # empty (and a note on stderr) when it cannot be built
#
# The sources come from `linux-6.12-<layout>.diff` in $KBUILD_LINEINFO_SERIES (default:
# ../shared/series beside the repository): scripts/gen_lineinfo.c and the dual-use header
# include/linux/mod_lineinfo.h are new files there, taken from the diff's `+` lines. They are
# built in DIR with libdw as the kernel's scripts/Makefile builds the host program
# (HOSTCFLAGS -O2 -std=gnu11 plus `pkg-config --cflags/--libs libdw`); nothing is kept.

# new_file DIFF PATH: the content of PATH, a file the diff creates.
series_new_file() {
  awk -v want="$2" '
    /^diff / { on = ($NF ~ ("/" want "$")); next }
    on && /^(---|\+\+\+|@@) / { next }
    on && /^\+/ { print substr($0, 2) }
  ' "$1"
}

series_tool() {
  local dir=$1 layout=$2 here series diff
  here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
  series=${KBUILD_LINEINFO_SERIES:-$here/../shared/series}
  diff=$series/linux-6.12-$layout.diff
  if [ ! -f "$diff" ]; then
    echo "series tool: skipped: no $diff (set KBUILD_LINEINFO_SERIES to the series folder)" >&2
    return 0
  fi
  if ! pkg-config --exists libdw 2>/dev/null; then
    echo "series tool: skipped: libdw not found (apt-get install libdw-dev libelf-dev pkg-config)" >&2
    return 0
  fi
  mkdir -p "$dir/scripts" "$dir/include/linux"
  series_new_file "$diff" scripts/gen_lineinfo.c > "$dir/scripts/gen_lineinfo.c"
  series_new_file "$diff" include/linux/mod_lineinfo.h > "$dir/include/linux/mod_lineinfo.h"
  if [ ! -s "$dir/scripts/gen_lineinfo.c" ]; then
    echo "series tool: skipped: no scripts/gen_lineinfo.c in $diff" >&2
    return 0
  fi
  # shellcheck disable=SC2046
  if ! gcc -O2 -fomit-frame-pointer -std=gnu11 $(pkg-config --cflags libdw) \
      -o "$dir/gen_lineinfo" "$dir/scripts/gen_lineinfo.c" $(pkg-config --libs libdw) 2> "$dir/build.log"; then
    echo "series tool: skipped: it does not build here:" >&2
    head -5 "$dir/build.log" >&2
    return 0
  fi
  echo "$dir/gen_lineinfo"
}
