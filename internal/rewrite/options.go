package rewrite

import (
	"errors"
	"fmt"
)

// ImagePaths pins where one image lives in a file when no layout rule finds it
// (config environments[].images). Paths use dots for mapping keys and [N] for
// sequence items, e.g. api.image.tag or spec.values.images[2].tag; a literal
// key containing dots (nginx.image.tag: v1) is found too.
type ImagePaths struct {
	// Image is the image repository the update names, e.g. ghcr.io/acme/api.
	Image string
	// Repository is the YAML path of the repository value. Optional; when set
	// its value must name Image (or a prefix of it when SharedTag is set).
	Repository string
	// Tag is the YAML path of the tag value.
	Tag string
	// Digest is the YAML path of the digest value. Without it a digest is
	// written into the tag value as TAG@DIGEST.
	Digest string
	// SharedTag allows updating a tag that several images share.
	SharedTag bool
}

// KustomizeDigestMode says how a kustomize images entry receives a digest.
type KustomizeDigestMode int

const (
	// KustomizeSeparate writes newTag and digest as separate fields (the
	// default), each only when the update carries it. An entry that already
	// holds newTag: TAG@DIGEST keeps that combined form.
	KustomizeSeparate KustomizeDigestMode = iota
	// KustomizeCombined writes newTag: TAG@DIGEST and leaves digest alone.
	KustomizeCombined
)

type options struct {
	paths       []ImagePaths
	sharedTags  map[string]bool
	policies    map[string]Update
	services    map[string]string
	markersOnly bool
	kustomize   KustomizeDigestMode
	quote       byte
	insert      map[string]bool // normalised repositories kustomize entries may be added for
	mergeLimit  int
	stats       *int
}

// Option configures Rewrite and RewriteFile. Options validate themselves and
// reject conflicting settings.
type Option func(*options) error

// WithImagePaths pins an image to explicit YAML paths. The paths win over
// every layout rule for that image; a path missing from the file is a
// *PathError.
func WithImagePaths(p ImagePaths) Option {
	return func(o *options) error {
		if p.Image == "" {
			return errors.New("image paths: image repository is required")
		}
		if p.Tag == "" && p.Digest == "" {
			return fmt.Errorf("image paths for %q: a tag or digest path is required", p.Image)
		}
		for _, q := range o.paths {
			if sameRepository(q.Image, p.Image) {
				return fmt.Errorf("image paths for %q given twice", p.Image)
			}
		}
		o.paths = append(o.paths, p)
		return nil
	}
}

// WithSharedTag allows a tag at the given YAML path (e.g. images.tag) to be
// updated although it is shared by every image under its repository prefix
// (microservices-demo's images.repository + images.tag). Without it such a
// tag is left alone and reported in Result.Skipped.
func WithSharedTag(path string) Option {
	return func(o *options) error {
		if path == "" {
			return errors.New("shared tag: empty path")
		}
		if o.sharedTags == nil {
			o.sharedTags = map[string]bool{}
		}
		o.sharedTags[path] = true
		return nil
	}
}

// WithPolicy maps a Flux image policy ("namespace:name", as written in
// `# {"$imagepolicy": "namespace:name:tag"}` markers) to the update it
// stands for. Markers naming unknown policies are left alone.
func WithPolicy(policy string, u Update) Option {
	return func(o *options) error {
		if err := u.validate(); err != nil {
			return fmt.Errorf("policy %q: %w", policy, err)
		}
		if o.policies == nil {
			o.policies = map[string]Update{}
		}
		o.policies[policy] = u
		return nil
	}
}

// WithService maps the service name used in `# automator: SERVICE[:tag]`
// markers to its image repository. Without a mapping a marker names the update
// whose repository is SERVICE or ends in /SERVICE.
func WithService(service, repository string) Option {
	return func(o *options) error {
		if service == "" || repository == "" {
			return errors.New("service marker mapping: empty service or repository")
		}
		if o.services == nil {
			o.services = map[string]string{}
		}
		o.services[service] = repository
		return nil
	}
}

// WithMarkersOnly restricts rewriting to fields carrying a Flux setter or
// automator marker; no layout rule and no kustomize entry insertion runs.
func WithMarkersOnly() Option {
	return func(o *options) error {
		if len(o.paths) > 0 {
			return errors.New("markers-only mode conflicts with explicit image paths")
		}
		o.markersOnly = true
		return nil
	}
}

// WithKustomizeDigestMode selects how digests are written into kustomize
// images entries.
func WithKustomizeDigestMode(m KustomizeDigestMode) Option {
	return func(o *options) error {
		if m != KustomizeSeparate && m != KustomizeCombined {
			return fmt.Errorf("unknown kustomize digest mode %d", m)
		}
		o.kustomize = m
		return nil
	}
}

// WithQuote selects the quote written around a new value that YAML would
// otherwise read as a number, boolean or null (1.10, 11, true) when the old
// value was unquoted: '"' (the default) or '\”. Existing quotes are kept.
func WithQuote(q byte) Option {
	return func(o *options) error {
		if q != '"' && q != '\'' {
			return fmt.Errorf("quote must be \" or ', got %q", q)
		}
		o.quote = q
		return nil
	}
}

// WithInsert allows adding a kustomize images entry (and the images key)
// for these repositories when a kustomization has no entry for them. Without
// it nothing is inserted: an image no site of the file names stays unmatched
// (absent from Result.Applied), so a caller can tell an unknown or misspelt
// image from one the environment runs. Callers allow it only for images no
// other file pins, so the same image is not pinned twice.
func WithInsert(repositories ...string) Option {
	return func(o *options) error {
		if o.insert == nil {
			o.insert = map[string]bool{}
		}
		for _, r := range repositories {
			if r == "" {
				return errors.New("insert: empty repository")
			}
			o.insert[normalizeRepository(r)] = true
		}
		return nil
	}
}

// withMergeLimit overrides the merge-key work limit (tests).
func withMergeLimit(n int) Option {
	return func(o *options) error {
		o.mergeLimit = n
		return nil
	}
}

// withIndexStats reports the merge-key work done (tests and benchmarks).
func withIndexStats(n *int) Option {
	return func(o *options) error {
		o.stats = n
		return nil
	}
}

func buildOptions(opts []Option) (*options, error) {
	o := &options{quote: '"'}
	for _, opt := range opts {
		if err := opt(o); err != nil {
			return nil, err
		}
	}
	if o.markersOnly && len(o.paths) > 0 {
		return nil, errors.New("markers-only mode conflicts with explicit image paths")
	}
	return o, nil
}

// Flags are the rewrite command's flags as given on the command line.
type Flags struct {
	// Sets are the --set values: REPOSITORY=TAG, =@DIGEST or =TAG@DIGEST.
	Sets []string
	// SharedTags are YAML paths of tags several images may share.
	SharedTags []string
	// KustomizeDigest is separate or combined (KustomizeDigestMode).
	KustomizeDigest string
	// MarkersOnly rewrites only values carrying a marker.
	MarkersOnly bool
}

// Parse turns the flags into updates and options. Every error names the
// flag at fault: all of them are the user's to fix.
func (f Flags) Parse() ([]Update, []Option, error) {
	var ups []Update
	for _, s := range f.Sets {
		u, err := ParseUpdate(s)
		if err != nil {
			return nil, nil, fmt.Errorf("--set: %w", err)
		}
		ups = append(ups, u)
	}
	var opts []Option
	for _, p := range f.SharedTags {
		opts = append(opts, WithSharedTag(p))
	}
	switch f.KustomizeDigest {
	case "separate":
	case "combined":
		opts = append(opts, WithKustomizeDigestMode(KustomizeCombined))
	default:
		return nil, nil, fmt.Errorf("--kustomize-digest: want separate or combined, got %q", f.KustomizeDigest)
	}
	if f.MarkersOnly {
		opts = append(opts, WithMarkersOnly())
	}
	return ups, opts, nil
}
