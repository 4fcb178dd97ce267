#!/usr/bin/env bash
# Vendors the partial plotly.js bundle the charts draw with into static/vendor/plotly/.
#
#   bash scripts/vendor_plotly.sh            # the pinned version below
#   bash scripts/vendor_plotly.sh 4.2.0      # another version (then update the pin in
#                                            # tests/web/test_vendored_plotly.py and README)
#
# "basic" holds the scatter, bar and pie traces plus every layout component (shapes,
# annotations, date axes, mode bar): the charts use scatter traces only (web/charts/).
# Fetched with npm from the npm registry, which checks the tarball against its integrity hash.
set -euo pipefail
cd "$(dirname "$0")/.."

package=plotly.js-basic-dist-min
version="${1:-4.1.1}"
target=static/vendor/plotly
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

(cd "$work" && npm pack --silent "$package@$version" > name.txt)
tar -xzf "$work/$(cat "$work/name.txt")" -C "$work"
head -c 200 "$work/package/plotly-basic.min.js" | grep -q "v$version" \
  || { echo "error: the bundle's header does not name v$version" >&2; exit 1; }
integrity=$(cd "$work" && npm view "$package@$version" dist.integrity)

mkdir -p "$target"
cp "$work/package/plotly-basic.min.js" "$work/package/LICENSE" "$target/"
rm -f "$target/plotly-basic.min.js.gz"  # rebuilt from the new file at the next start
cat > "$target/VERSION" <<NOTE
$package $version from the npm registry (MIT, plotly.js by Plotly, Inc.); integrity $integrity
NOTE
echo "vendored $package $version into $target"
