#!/usr/bin/env bash
# Builds the Go vulnerability database that `make lint` gives govulncheck, from the
# module proxy alone: the usual database host may be out of reach, but the proxy
# serves golang.org/x/vulndb, whose reports and cmd/gendb make the same database.
# gendb reads the reports from a git repository, so the module is copied, committed
# and handed to it. The result is cached in .cache/vulndb and rebuilt only when
# VULNDB_VERSION changes. Prints the database's file:// URL as its last line.
set -euo pipefail
cd "$(dirname "$0")/.."

# The pinned snapshot of the reports; raise it to learn of newer vulnerabilities.
VULNDB_VERSION=${VULNDB_VERSION:-v0.0.0-20261105234957-e22db6528018}
cache=$PWD/.cache
out=$cache/vulndb
stamp=$out/.version

step() { step_start=$(date +%s%N); printf '==> %s\n' "$1" >&2; }
done_step() { local ms=$(( ($(date +%s%N) - step_start) / 1000000 )); printf '    done in %d.%03ds\n' $((ms / 1000)) $((ms % 1000)) >&2; }

step "vulndb: cached at $VULNDB_VERSION?"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$VULNDB_VERSION" ] && [ -f "$out/index/db.json" ]; then
  echo "    yes" >&2
  done_step
  echo "file://$out"
  exit 0
fi
echo "    no: building it" >&2
done_step

step "vulndb: download golang.org/x/vulndb@$VULNDB_VERSION from the module proxy"
src=$(go mod download -json "golang.org/x/vulndb@$VULNDB_VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
[ -d "$src" ] || { echo "vulndb: no module directory for $VULNDB_VERSION" >&2; exit 1; }
done_step

step "vulndb: copy the reports into a git repository (gendb reads one)"
mkdir -p "$cache"
work=$(mktemp -d "$cache/vulndb-src.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/repo"
cp -r "$src/data" "$work/repo/"
chmod -R u+w "$work/repo"
git -C "$work/repo" init -q
git -C "$work/repo" add -A
GIT_AUTHOR_DATE=2000-01-01T00:00:00Z GIT_COMMITTER_DATE=2000-01-01T00:00:00Z \
  git -C "$work/repo" -c user.name=vulndb -c user.email=vulndb@localhost commit -q -m "golang.org/x/vulndb $VULNDB_VERSION"
done_step

step "vulndb: build cmd/gendb"
go build -C "$src" -o "$work/gendb" ./cmd/gendb
done_step

step "vulndb: generate the database into $out"
rm -rf "$out.new"
(cd "$work/repo" && "$work/gendb" -repo . -out "$out.new")
echo "$VULNDB_VERSION" >"$out.new/.version"
rm -rf "$out"
mv "$out.new" "$out"
echo "    $(find "$out/ID" -name '*.json' | wc -l) vulnerabilities" >&2
done_step

echo "file://$out"
