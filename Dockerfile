# syntax=docker/dockerfile:1
# The automator container image, used by action.yml (container action) and by
# the registry watcher Deployment in deploy/. Build: `make docker`.

ARG GO_VERSION=1.26
ARG DEBIAN=bookworm

FROM golang:${GO_VERSION}-${DEBIAN} AS build
WORKDIR /src
ENV CGO_ENABLED=0 GOEXPERIMENT=jsonv2 GOTOOLCHAIN=local GOFLAGS=-buildvcs=false
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/root/go/pkg/mod go mod download
COPY cmd ./cmd
COPY internal ./internal
ARG VERSION=dev
ARG COMMIT=unknown
RUN --mount=type=cache,target=/root/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    go build -trimpath -ldflags "-s -w -X main.version=${VERSION} -X main.commit=${COMMIT}" \
      -o /out/automator ./cmd/automator \
 && go build -trimpath -ldflags "-s -w -X main.version=${VERSION} -X main.commit=${COMMIT}" \
      -o /out/automator-scan ./cmd/automator-scan

# The docker CLI and buildx plugin, for the docker builder backend on runners
# that have a daemon.
FROM docker:27-cli AS dockercli
FROM docker/buildx-bin:0.19 AS buildx

FROM debian:${DEBIAN}-slim
ARG VERSION=dev
ARG COMMIT=unknown
LABEL org.opencontainers.image.title="automator" \
      org.opencontainers.image.description="Carries container images from an app monorepo into a GitOps manifests repository" \
      org.opencontainers.image.source="https://github.com/deployment-automator/automator" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${COMMIT}" \
      org.opencontainers.image.licenses="Apache-2.0"
# buildah for daemonless builds, git for change detection, CA certificates for
# registries and GitHub. automator runs buildah with --isolation chroot and
# vfs storage, so no OCI runtime, network stack or FUSE is ever run: netavark
# (4 MB) is named to satisfy buildah's container-network-stack dependency
# instead of containernetworking-plugins and iptables (48 MB), and gpg
# instead of the gnupg suite (agent, dirmngr, gpgsm, wks; 12 MB) that
# gpgme would otherwise pull in. See README.md, "Container image".
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends buildah netavark gpg git ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --uid 65532 --create-home --shell /usr/sbin/nologin automator
COPY --from=dockercli /usr/local/bin/docker /usr/local/bin/docker
COPY --from=buildx /buildx /usr/libexec/docker/cli-plugins/docker-buildx
# automator and its scanner (Trivy as a library) are a pinned pair: automator
# starts /usr/local/bin/automator-scan, beside itself, only when a gate scans.
COPY --from=build /out/automator /out/automator-scan /usr/local/bin/
# No USER: GitHub runs Docker container actions as the default (root) user and
# its documentation says not to set one; the runner mounts the workspace and
# the file-command files (GITHUB_OUTPUT, …) owned by its own user with mode
# 0644, which only root can write. In Actions automator marks the workspace
# safe for git itself. The watcher Deployment (deploy/) runs as uid 65532, the
# user created above.
ENTRYPOINT ["/usr/local/bin/automator"]
