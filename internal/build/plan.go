package build

import (
	"fmt"
	"path/filepath"
	"time"

	"github.com/deployment-automator/automator/internal/config"
)

// Plan is everything decided about one service before anything is built: the build request, the tags
// and the repositories the image goes to. Plans are made for all selected services first, so a bad tag
// template fails the run before the first build starts.
type Plan struct {
	// Service is the service name.
	Service string
	// Image is the primary repository (service.image).
	Image string
	// Repositories are Image followed by the service's mirrors; the image has the same digest in all.
	Repositories []string
	// Tags are the validated tags.
	Tags []string
	// CommitTags are those of Tags that name the commit alone (CommitTags): the image
	// published under one of them is this commit's image, whatever event built it.
	CommitTags []string
	// Request is the build request; Request.Output is <outDir>/<service>.
	Request Request
}

// Provenance is the run-wide input of every plan.
type Provenance struct {
	// Tag holds the commit, ref and time fields of tag templates.
	Tag TagData
	// Source is the source repository URL for org.opencontainers.image.source.
	Source string
	// Created is the time for org.opencontainers.image.created.
	Created time.Time
	// Timestamp, when set, pins every timestamp in the images for reproducible builds (see
	// Request.Timestamp); the commit time is the usual choice, with Created set to it too.
	Timestamp time.Time
}

// PlanService resolves svc against the shared build settings. root is the repository root that
// service paths are relative to; outDir receives one OCI layout per service. Only values derived
// from the commit are baked into the image (revision, commit time, source, title; no
// org.opencontainers.image.version, which would differ between a branch push and a release tag),
// so the same commit builds to the same digest whatever the event; tags carry the version.
func PlanService(svc config.Service, settings config.Build, root, outDir string, p Provenance) (Plan, error) {
	tags, err := Tags(settings.Tags, p.Tag)
	if err != nil {
		return Plan{}, fmt.Errorf("service %q: %w", svc.Name, err)
	}
	dockerfile := filepath.Join(root, svc.Context, "Dockerfile")
	if svc.Dockerfile != "" {
		dockerfile = filepath.Join(root, svc.Dockerfile)
	}
	platforms := settings.Platforms
	if len(svc.Platforms) > 0 {
		platforms = svc.Platforms
	}
	secrets := make([]Secret, 0, len(svc.Secrets))
	for _, s := range svc.Secrets {
		sec := Secret{ID: s.ID, Env: s.Env}
		if s.File != "" {
			sec.File = s.File
			if !filepath.IsAbs(s.File) {
				sec.File = filepath.Join(root, s.File)
			}
		}
		secrets = append(secrets, sec)
	}
	meta := Metadata{Source: p.Source, Revision: p.Tag.SHA, Created: p.Created, Title: svc.Name}
	return Plan{
		Service:      svc.Name,
		Image:        svc.Image,
		Repositories: append([]string{svc.Image}, svc.Mirrors...),
		Tags:         tags,
		CommitTags:   CommitTags(settings.Tags, p.Tag),
		Request: Request{
			Service:    svc.Name,
			Context:    filepath.Join(root, svc.Context),
			Dockerfile: dockerfile,
			Output:     filepath.Join(outDir, svc.Name),
			Timestamp:  p.Timestamp,
			Args:       svc.Args,
			Target:     svc.Target,
			Platforms:  platforms,
			Secrets:    secrets,
			CacheFrom:  settings.CacheFrom,
			CacheTo:    settings.CacheTo,
			Labels:     meta.Labels(settings.Labels),
		},
	}, nil
}
