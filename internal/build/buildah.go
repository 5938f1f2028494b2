package build

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Buildah builds with `buildah bud`, daemonless, using the vfs storage driver and chroot isolation so it
// works unprivileged-ish in CI containers and here. Its image store lives under one directory per
// Buildah value (a fresh temporary one unless WithStorageDir is given), so builds never touch the
// host's default container storage. Concurrent builds share that store.
type Buildah struct {
	o       *options
	path    string
	root    string
	runroot string
	owned   string // storage directory removed by Close; empty when supplied by the caller
	regs    *registryFiles
}

var _ Builder = (*Buildah)(nil)

func newBuildah(o *options) (*Buildah, error) {
	path, err := lookBinary(o, "buildah")
	if err != nil {
		return nil, err
	}
	b := &Buildah{o: o, path: path}
	dir := o.storageDir
	if dir == "" {
		dir, err = os.MkdirTemp("", "automator-buildah-")
		if err != nil {
			return nil, fmt.Errorf("creating buildah storage: %w", err)
		}
		b.owned = dir
	}
	b.root, b.runroot = filepath.Join(dir, "root"), filepath.Join(dir, "runroot")
	if b.regs, err = writeRegistryFiles(o.registries, systemRegistriesConf); err != nil {
		return nil, errors.Join(err, b.Close())
	}
	return b, nil
}

// Name implements Builder.
func (b *Buildah) Name() string { return BackendBuildah }

func (b *Buildah) storageArgs() []string {
	return []string{"--root", b.root, "--runroot", b.runroot, "--storage-driver", "vfs"}
}

// budArgs is the `buildah bud` command line for req, building into the local store as name (a manifest
// list when more than one platform is requested).
func (b *Buildah) budArgs(req Request, name string) []string {
	args := append(b.storageArgs(), "bud", "--isolation", "chroot", "--format", "oci", "--file", dockerfilePath(req))
	args = append(args, b.regs.args()...)
	if len(req.Platforms) > 1 {
		args = append(args, "--manifest", name, "--platform", strings.Join(req.Platforms, ","))
	} else {
		args = append(args, "--tag", name)
		if len(req.Platforms) == 1 {
			args = append(args, "--platform", req.Platforms[0])
		}
	}
	for _, kv := range sortedPairs(req.Args) {
		args = append(args, "--build-arg", kv)
	}
	if req.Target != "" {
		args = append(args, "--target", req.Target)
	}
	for _, s := range req.Secrets {
		if s.File != "" {
			args = append(args, "--secret", "id="+s.ID+",src="+s.File)
		} else {
			args = append(args, "--secret", "id="+s.ID+",src="+s.Env+",type=env")
		}
	}
	if len(req.CacheFrom)+len(req.CacheTo) > 0 {
		args = append(args, "--layers")
	}
	for _, c := range req.CacheFrom {
		args = append(args, "--cache-from", c)
	}
	for _, c := range req.CacheTo {
		args = append(args, "--cache-to", c)
	}
	for _, kv := range sortedPairs(req.Labels) {
		args = append(args, "--label", kv, "--annotation", kv)
	}
	if !req.Timestamp.IsZero() {
		args = append(args, "--timestamp", strconv.FormatInt(req.Timestamp.Unix(), 10))
	}
	return append(args, req.Context)
}

// Build implements Builder: bud into the private store, then push the image (or manifest list, with all
// its images) to an OCI layout directory, then drop it from the store.
func (b *Buildah) Build(ctx context.Context, req Request) (*Result, error) {
	if err := req.validate(); err != nil {
		return nil, err
	}
	out, err := prepareOutput(req.Output)
	if err != nil {
		return nil, &Error{Service: req.Service, Builder: BackendBuildah, Err: err}
	}
	name := "localhost/automator/" + req.Service + ":" + randomSuffix()
	env := b.regs.env(buildahEnv(os.Environ()))
	if err := run(ctx, b.o, BackendBuildah, b.path, req, b.budArgs(req, name), env); err != nil {
		return nil, err
	}
	var push, cleanup []string
	if len(req.Platforms) > 1 {
		push = append(b.storageArgs(), "manifest", "push", "--all", name, "oci:"+out)
		cleanup = append(b.storageArgs(), "manifest", "rm", name)
	} else {
		push = append(b.storageArgs(), "push", name, "oci:"+out)
		cleanup = append(b.storageArgs(), "rmi", name)
	}
	err = run(ctx, b.o, BackendBuildah, b.path, req, push, env)
	_ = b.o.runner.Run(context.WithoutCancel(ctx), Command{Path: b.path, Args: cleanup, Output: io.Discard})
	if err != nil {
		return nil, err
	}
	return finish(BackendBuildah, req, out)
}

// buildahEnv adapts the environment for buildah, which refuses to run at all ("checking authfile")
// when DOCKER_CONFIG names a directory without config.json and REGISTRY_AUTH_FILE is unset. Such a
// DOCKER_CONFIG holds no credentials, so dropping it changes nothing else. nil means unchanged.
func buildahEnv(environ []string) []string {
	var dockerConfig string
	for _, kv := range environ {
		if k, v, _ := strings.Cut(kv, "="); k == "REGISTRY_AUTH_FILE" && v != "" {
			return nil
		} else if k == "DOCKER_CONFIG" {
			dockerConfig = v
		}
	}
	if dockerConfig == "" {
		return nil
	}
	if _, err := os.Stat(filepath.Join(dockerConfig, "config.json")); err == nil {
		return nil
	}
	out := make([]string, 0, len(environ))
	for _, kv := range environ {
		if !strings.HasPrefix(kv, "DOCKER_CONFIG=") {
			out = append(out, kv)
		}
	}
	return out
}

// Close implements Builder: it removes the temporary image store (after asking buildah to delete its
// images and containers) unless the store was supplied with WithStorageDir.
func (b *Buildah) Close() error {
	regErr := b.regs.remove()
	if b.owned == "" {
		return regErr
	}
	ctx := context.Background()
	_ = b.o.runner.Run(ctx, Command{Path: b.path, Args: append(b.storageArgs(), "rm", "--all"), Output: io.Discard})
	_ = b.o.runner.Run(ctx, Command{Path: b.path, Args: append(b.storageArgs(), "rmi", "--all", "--force"), Output: io.Discard})
	if err := removeTree(b.owned); err != nil {
		return errors.Join(fmt.Errorf("removing buildah storage %q: %w", b.owned, err), regErr)
	}
	return regErr
}
