# Deployment Automator — developer entry points. `make help` lists them.
SHELL := /bin/bash
.DEFAULT_GOAL := help

export GOEXPERIMENT := jsonv2
export GOTOOLCHAIN := local

VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT  ?= $(shell git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
LDFLAGS := -s -w -X main.version=$(VERSION) -X main.commit=$(COMMIT)
GOTEST_FLAGS ?= -count=1 -timeout 40m
TOOLS := $(CURDIR)/bin/tools
IMAGE ?= automator:$(VERSION)
# The cosign CLI the e2e tests cross-check signatures and attestations with.
COSIGN_VERSION := v2.6.5

.PHONY: help
help: ## Show this help
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z0-9_-]+:.*## / {printf "  \033[36m%-10s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: deps
deps: ## Install system packages the tests and demo need (buildah, docker-registry, skopeo, git)
	@bash .ci/install-deps

.PHONY: build
build: ## Build bin/automator and its scanner bin/automator-scan (Trivy): the Dockerfile's static binaries (CGO off, same flags)
	CGO_ENABLED=0 go build -trimpath -ldflags '$(LDFLAGS)' -o bin/automator ./cmd/automator
	CGO_ENABLED=0 go build -trimpath -ldflags '$(LDFLAGS)' -o bin/automator-scan ./cmd/automator-scan

.PHONY: tools
tools: ## Build the Trivy CLI of the same module version (side-by-side scan test) and the pinned cosign CLI (signature cross-check) into bin/tools
	@mkdir -p $(TOOLS)
	go build -o $(TOOLS)/trivy github.com/aquasecurity/trivy/cmd/trivy
	@# cosign is built from its own module at a pinned version (its go.mod, not ours), once.
	@test -x $(TOOLS)/cosign || GOBIN=$(TOOLS) go install -trimpath -ldflags '-s -w' github.com/sigstore/cosign/v2/cmd/cosign@$(COSIGN_VERSION)

.PHONY: test
test: deps build tools ## Run unit and end-to-end tests (real registry, buildah, git, Trivy)
	go vet ./...
	AUTOMATOR_BIN=$(CURDIR)/bin/automator AUTOMATOR_SCANNER=$(CURDIR)/bin/automator-scan TRIVY_BIN=$(TOOLS)/trivy COSIGN_BIN=$(TOOLS)/cosign go test $(GOTEST_FLAGS) ./...

.PHONY: unit
unit: build ## Run unit tests only (no e2e)
	AUTOMATOR_SCANNER=$(CURDIR)/bin/automator-scan go test $(GOTEST_FLAGS) $$(go list ./... | grep -v /e2e)

.PHONY: e2e
e2e: deps build ## Run end-to-end tests only
	AUTOMATOR_BIN=$(CURDIR)/bin/automator go test $(GOTEST_FLAGS) ./e2e/...

.PHONY: lint
lint: ## gofmt, go mod tidy check, go vet and staticcheck
	@go mod tidy -diff || { echo 'go.mod/go.sum are not tidy: run go mod tidy'; exit 1; }
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	go vet ./...
	@test -x $(TOOLS)/staticcheck || GOBIN=$(TOOLS) go install honnef.co/go/tools/cmd/staticcheck@v0.8.2
	$(TOOLS)/staticcheck ./...

.PHONY: schema
schema: ## Regenerate schema/automator.schema.json from the config types
	UPDATE_SCHEMA=1 go test -count=1 -run 'TestSchemaInSync|TestReadmeReferenceInSync|TestActionInputsDocumented' ./internal/config/ ./cmd/automator/

.PHONY: demo
demo: deps build ## Run the main job end to end, offline, on the sample monorepo in testdata/
	@set -o pipefail; AUTOMATOR_DEMO=1 AUTOMATOR_BIN=$(CURDIR)/bin/automator \
	  go test -count=1 -v -run '^TestDemo$$' ./e2e/ | grep -Ev '^(=== RUN|--- PASS|PASS$$|ok )'

.PHONY: bench
bench: deps build ## Side-by-side table (whole processes: automator vs yq, kustomize, crane, skopeo, trivy), then in-process benchmarks
	@test -x $(TOOLS)/yq || GOBIN=$(TOOLS) go install github.com/mikefarah/yq/v4@v4.47.1
	@test -x $(TOOLS)/kustomize || GOBIN=$(TOOLS) go install sigs.k8s.io/kustomize/kustomize/v5@v5.7.1
	@test -x $(TOOLS)/crane || go build -o $(TOOLS)/crane github.com/google/go-containerregistry/cmd/crane
	@test -x $(TOOLS)/trivy || $(MAKE) tools
	@echo '== Side by side: whole processes, alternating, medians =='
	AUTOMATOR_BIN=$(CURDIR)/bin/automator PATH=$(TOOLS):$$PATH go test -timeout 60m -run '^$$' -bench 'SideBySide' -benchtime 1x ./e2e/
	@echo '== In-process benchmarks (Go functions, not processes: not comparable with the table above) =='
	PATH=$(TOOLS):$$PATH go test -run '^$$' -bench . -benchmem -benchtime 3x $$(go list ./... | grep -v /e2e)
	AUTOMATOR_BIN=$(CURDIR)/bin/automator go test -run '^$$' -bench 'Copy5x20MB' -benchtime 3x ./e2e/

.PHONY: docker
docker: ## Build the container image (needs docker buildx or buildah)
	@if docker info >/dev/null 2>&1; then \
	  docker buildx build --build-arg VERSION=$(VERSION) --build-arg COMMIT=$(COMMIT) -t $(IMAGE) . ; \
	else \
	  buildah bud --build-arg VERSION=$(VERSION) --build-arg COMMIT=$(COMMIT) -t $(IMAGE) . ; \
	fi

.PHONY: clean
clean: ## Remove build outputs
	rm -rf bin
