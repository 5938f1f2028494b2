package build

import (
	"context"
	"strconv"
	"strings"
)

// Docker builds with `docker buildx build --output type=oci`, which needs a reachable daemon and a
// buildx builder whose driver can export OCI (docker-container, kubernetes, remote, or the docker driver
// with the containerd image store). Multi-platform builds produce an image index. Provenance and SBOM
// attestations are turned off so that a single-platform build yields a plain image manifest whose
// digest is the one every registry reports.
type Docker struct {
	o    *options
	path string
}

var _ Builder = (*Docker)(nil)

func newDocker(o *options) (*Docker, error) {
	path, err := lookBinary(o, "docker")
	if err != nil {
		return nil, err
	}
	return &Docker{o: o, path: path}, nil
}

// Name implements Builder.
func (d *Docker) Name() string { return BackendDocker }

// buildArgs is the `docker buildx build` command line writing req's image as an OCI layout directory out.
func (d *Docker) buildArgs(req Request, out string) []string {
	output := "type=oci,dest=" + out + ",tar=false"
	if !req.Timestamp.IsZero() {
		// BuildKit reads SOURCE_DATE_EPOCH as a build arg; rewrite-timestamp also clamps file times in layers.
		output += ",rewrite-timestamp=true"
	}
	args := []string{"buildx", "build", "--progress", "plain", "--provenance=false", "--sbom=false",
		"--file", dockerfilePath(req), "--output", output}
	if !req.Timestamp.IsZero() {
		args = append(args, "--build-arg", "SOURCE_DATE_EPOCH="+strconv.FormatInt(req.Timestamp.Unix(), 10))
	}
	if len(req.Platforms) > 0 {
		args = append(args, "--platform", strings.Join(req.Platforms, ","))
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
			args = append(args, "--secret", "id="+s.ID+",env="+s.Env)
		}
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
	return append(args, req.Context)
}

// Build implements Builder.
func (d *Docker) Build(ctx context.Context, req Request) (*Result, error) {
	if err := req.validate(); err != nil {
		return nil, err
	}
	out, err := prepareOutput(req.Output)
	if err != nil {
		return nil, &Error{Service: req.Service, Builder: BackendDocker, Err: err}
	}
	if err := run(ctx, d.o, BackendDocker, d.path, req, d.buildArgs(req, out), nil); err != nil {
		return nil, err
	}
	return finish(BackendDocker, req, out)
}

// Close implements Builder; the docker backend keeps no state of its own.
func (d *Docker) Close() error { return nil }
