#!/usr/bin/env bash
# Runs every fuzz target of the module, one after another, each for FUZZTIME
# (default 30s); FUZZ_MATCH (a grep -E pattern on "package Target") picks some.
# A failing input is written by go test to the package's testdata/fuzz/<Target>/,
# where it stays as a seed that every plain `go test` runs once the code is fixed.
# Goes on after a failure and exits non-zero at the end if any target failed.
set -uo pipefail
cd "$(dirname "$0")/.."
GO=${GO:-go}
FUZZTIME=${FUZZTIME:-30s}
FUZZ_MATCH=${FUZZ_MATCH:-.}

# `go test -list` prints a package's matching names, then its "ok" line.
targets=$($GO test -list '^Fuzz' ./... | awk '
  /^Fuzz/ { names[n++] = $1; next }
  /^ok/   { for (i = 0; i < n; i++) print $2, names[i]; n = 0 }' | grep -E -- "$FUZZ_MATCH")
[ -n "$targets" ] || { echo "fuzz: no target matches $FUZZ_MATCH" >&2; exit 1; }
total=$(wc -l <<<"$targets")

i=0
failed=()
while read -r pkg name; do
  i=$((i + 1))
  printf '==> [%d/%d] %s %s for %s\n' "$i" "$total" "$pkg" "$name" "$FUZZTIME"
  if ! $GO test -run '^$' -fuzz "^${name}\$" -fuzztime "$FUZZTIME" "$pkg"; then
    failed+=("$pkg $name")
  fi
done <<<"$targets"

if [ ${#failed[@]} -gt 0 ]; then
  printf 'fuzz: %d of %d targets failed (inputs kept under testdata/fuzz/):\n' "${#failed[@]}" "$total" >&2
  printf '    %s\n' "${failed[@]}" >&2
  exit 1
fi
printf 'fuzz: %d targets ran %s each, no failure\n' "$total" "$FUZZTIME"
