#!/bin/sh
# Compare the byte-exact rewriter with `yq -i` and `kustomize edit set image`
# on the same updates over corpus files: time per update and diff size.
# Installs the two tools into $BIN (default /tmp/bin), never into go.mod.
set -eu
BIN=${BIN:-/tmp/bin}
cd "$(dirname "$0")/../.."   # internal/rewrite
export GOTOOLCHAIN=${GOTOOLCHAIN:-local}
[ -x "$BIN/yq" ] || GOBIN="$BIN" go install github.com/mikefarah/yq/v4@v4.47.1
[ -x "$BIN/kustomize" ] || GOBIN="$BIN" go install sigs.k8s.io/kustomize/kustomize/v5@v5.7.1
YQ="$BIN/yq" KUSTOMIZE="$BIN/kustomize" go test -run '^$' -bench 'CompareTools|RewriteCorpus' -benchtime "${BENCHTIME:-5x}" .
