#!/usr/bin/env bash
# Installs kbuild-lineinfo under PREFIX (default: ~/.local) as a tool is installed:
#   PREFIX/bin/kbuild-lineinfo                                  cargo install --path . --root PREFIX
#   PREFIX/share/man/man1/kbuild-lineinfo.1, kbuild-lineinfo-SUBCOMMAND.1
#   PREFIX/share/bash-completion/completions/kbuild-lineinfo
#   PREFIX/share/zsh/site-functions/_kbuild-lineinfo
#   PREFIX/share/fish/vendor_completions.d/kbuild-lineinfo.fish
# The pages and completions come from the installed binary (`kbuild-lineinfo generate ...`), so
# they describe exactly the options it has. Extra arguments after PREFIX go to cargo install
# (e.g. --debug). Run again to upgrade; nothing else is touched.
set -euo pipefail
usage="usage: scripts/install.sh [PREFIX] [CARGO-INSTALL-OPTION...]"
prefix="$HOME/.local"
if [ $# -gt 0 ] && [ "${1#-}" = "$1" ]; then
  prefix="$1"
  shift
fi
case "${1:-}" in
  -h|--help) echo "$usage"; exit 0 ;;
esac
case "$prefix" in
  /*) ;;
  *) prefix="$PWD/$prefix" ;;
esac
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

cargo install --locked --path "$here" --root "$prefix" "$@"
tool="$prefix/bin/kbuild-lineinfo"

share="$prefix/share"
mkdir -p "$share/man/man1" "$share/bash-completion/completions" \
  "$share/zsh/site-functions" "$share/fish/vendor_completions.d"
"$tool" generate man --dir "$share/man/man1"
"$tool" generate complete-bash >"$share/bash-completion/completions/kbuild-lineinfo"
"$tool" generate complete-zsh >"$share/zsh/site-functions/_kbuild-lineinfo"
"$tool" generate complete-fish >"$share/fish/vendor_completions.d/kbuild-lineinfo.fish"

echo "installed $tool"
echo "  man pages:   $share/man/man1/kbuild-lineinfo*.1 (man kbuild-lineinfo)"
echo "  completions: bash, zsh, fish under $share"
