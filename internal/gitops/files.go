package gitops

import (
	"bytes"
	"fmt"
	"path"
	"slices"
	"sort"
	"strings"

	"github.com/deployment-automator/automator/internal/config"
	"github.com/deployment-automator/automator/internal/rewrite"
)

// file is one environment file as read from a revision.
type file struct {
	Path    string
	Mode    string
	Content []byte
}

// edited is a file whose rewrite changed bytes.
type edited struct {
	file
	New     []byte
	Diff    string
	Changes []rewrite.Change
	Skipped []rewrite.Skip
}

// matchFiles selects the environment's files among the paths of a tree. A
// literal path that is missing is an error; a glob may match nothing only if
// another pattern matched something.
func matchFiles(env config.Environment, paths []string) ([]string, error) {
	seen := map[string]bool{}
	var out []string
	for i, pat := range env.Files {
		pat = strings.TrimPrefix(pat, "./")
		n := 0
		for _, p := range paths {
			if globMatch(pat, p) {
				n++
				if !seen[p] {
					seen[p] = true
					out = append(out, p)
				}
			}
		}
		if n == 0 && !strings.ContainsAny(pat, "*?[") {
			return nil, fmt.Errorf("environment %q: files[%d]: %q does not exist in %s", env.Name, i, pat, env.Repo)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("environment %q: files %v match nothing in %s", env.Name, env.Files, env.Repo)
	}
	sort.Strings(out)
	return out, nil
}

// globMatch is path.Match where a "**" segment matches any number of
// segments.
func globMatch(pattern, name string) bool {
	ps, ns := strings.Split(pattern, "/"), strings.Split(name, "/")
	var m func(i, j int) bool
	m = func(i, j int) bool {
		for i < len(ps) {
			if ps[i] == "**" {
				for k := j; k <= len(ns); k++ {
					if m(i+1, k) {
						return true
					}
				}
				return false
			}
			if j >= len(ns) {
				return false
			}
			if ok, err := path.Match(ps[i], ns[j]); err != nil || !ok {
				return false
			}
			i, j = i+1, j+1
		}
		return j == len(ns)
	}
	return m(0, 0)
}

// rewriteOptions maps the environment's explicit image paths and the
// services of the updates to rewrite options for one file.
func rewriteOptions(env config.Environment, file string, services map[string]string) ([]rewrite.Option, error) {
	var opts []rewrite.Option
	for i, ip := range env.Images {
		if ip.File != "" && strings.TrimPrefix(ip.File, "./") != file {
			continue
		}
		repo, ok := services[ip.Service]
		if !ok {
			continue
		}
		if ip.Tag == "" && ip.Digest == "" {
			return nil, fmt.Errorf("environment %q: images[%d] (%s): a tag or digest path is required", env.Name, i, ip.Service)
		}
		opts = append(opts, rewrite.WithImagePaths(rewrite.ImagePaths{Image: repo, Repository: ip.Repository, Tag: ip.Tag, Digest: ip.Digest, SharedTag: ip.SharedTag}))
	}
	names := make([]string, 0, len(services))
	for s := range services {
		names = append(names, s)
	}
	sort.Strings(names)
	for _, s := range names {
		opts = append(opts, rewrite.WithService(s, services[s]))
	}
	return opts, nil
}

// rewriteFiles applies the updates to every file and returns the ones whose
// bytes changed, in path order. Every update must end up pinned by some file:
// one whose image no file pins gets a kustomization images entry only when
// its service is configured for the environment (req.Services), so the same
// image is never pinned twice and an unknown or misspelt image is never
// inserted; otherwise the result is an *UnknownImageError and nothing is
// written.
func rewriteFiles(req Request, files []file, updates []Update) ([]edited, error) {
	env := req.Env
	services := map[string]string{}
	rus := make([]rewrite.Update, 0, len(updates))
	for _, u := range updates {
		services[u.Service] = u.Repository
		rus = append(rus, rewrite.Update{Repository: u.Repository, Tag: u.Tag, Digest: u.Digest})
	}
	pass := func(insert []string) ([]edited, map[string]bool, []fileSkip, error) {
		var out []edited
		applied := map[string]bool{}
		var skipped []fileSkip
		for _, f := range files {
			opts, err := rewriteOptions(env, f.Path, services)
			if err != nil {
				return nil, nil, nil, err
			}
			if len(insert) > 0 {
				opts = append(opts, rewrite.WithInsert(insert...))
			}
			nb, res, err := rewrite.Rewrite(f.Path, f.Content, rus, opts...)
			if err != nil {
				return nil, nil, nil, fmt.Errorf("environment %q: rewriting %s: %w", env.Name, f.Path, err)
			}
			for _, r := range res.Applied {
				applied[r] = true
			}
			for _, s := range res.Skipped {
				skipped = append(skipped, fileSkip{f.Path, s})
			}
			if bytes.Equal(nb, f.Content) {
				continue
			}
			out = append(out, edited{file: f, New: nb, Changes: res.Changes, Skipped: res.Skipped,
				Diff: rewrite.UnifiedDiff("a/"+f.Path, "b/"+f.Path, f.Content, nb)})
		}
		return out, applied, skipped, nil
	}
	out, applied, skipped, err := pass(nil)
	if err != nil {
		return nil, err
	}
	var insert []string
	for _, u := range updates {
		if configuredFor(env, req.Services, u) && !applied[u.Repository] {
			insert = append(insert, u.Repository)
		}
	}
	if len(insert) > 0 {
		if out, applied, skipped, err = pass(insert); err != nil {
			return nil, err
		}
	}
	for _, u := range updates {
		if applied[u.Repository] {
			continue
		}
		e := &UnknownImageError{Env: env.Name, Service: u.Service, Repository: u.Repository, Configured: configuredFor(env, req.Services, u)}
		for _, f := range files {
			e.Files = append(e.Files, f.Path)
		}
		for _, s := range skipped {
			if s.Repository == u.Repository {
				e.Skipped = append(e.Skipped, fmt.Sprintf("%s:%d %s: %s", s.file, s.Line, s.Path, s.Reason))
			}
		}
		return nil, e
	}
	return out, nil
}

// configuredFor reports whether u's service is configured for env with u's
// image: the configured repository, or that repository under env.Registry
// (where promotion copies images; the same mapping as retarget).
func configuredFor(env config.Environment, services map[string]string, u Update) bool {
	repo, ok := services[u.Service]
	if !ok {
		return false
	}
	if u.Repository == repo || env.Registry != "" && u.Repository == strings.TrimRight(env.Registry, "/")+"/"+path.Base(repo) {
		return true
	}
	return rewrite.SameRepository(u.Repository, repo)
}

type fileSkip struct {
	file string
	rewrite.Skip
}

// UnknownImageError reports an update no file of the environment pins (an
// unknown service, a misspelt repository, an image the environment does not
// run), or a service not configured for the environment. Nothing is
// written. The CLI exits 2 for it.
type UnknownImageError struct {
	Env        string
	Service    string
	Repository string
	// Files are the environment files searched.
	Files []string
	// Skipped are the sites that name the image (or nearly) but were left
	// alone, as "file:line path: reason".
	Skipped []string
	// Configured is true when the service is configured for the
	// environment (so only the pinning is missing).
	Configured bool
	// Reason overrides the default explanation.
	Reason string
}

func (e *UnknownImageError) Error() string {
	what := fmt.Sprintf("environment %q: service %q", e.Env, e.Service)
	if e.Repository != "" {
		what += fmt.Sprintf(" (image %s)", e.Repository)
	}
	if e.Reason != "" {
		return what + ": " + e.Reason
	}
	msg := what + ": no file of the environment pins the image (searched " + strings.Join(e.Files, ", ") + ")"
	if len(e.Skipped) > 0 {
		msg += "; seen but left alone: " + strings.Join(e.Skipped, "; ")
	}
	if !e.Configured {
		msg += "; no kustomize images entry is inserted: the service is not configured for this environment with this image"
	} else {
		msg += "; no kustomization to add an images entry to"
	}
	return msg
}

// ConfiguredImages returns the services configured for environment env
// (service → image repository): every service, and the watch rules that
// list env. Pass it as Request.Services.
func ConfiguredImages(cfg *config.Config, env string) map[string]string {
	m := map[string]string{}
	for _, s := range cfg.Services {
		m[s.Name] = s.Image
	}
	if cfg.Watch != nil {
		for _, r := range cfg.Watch.Rules {
			if slices.Contains(r.Environments, env) {
				m[r.Name] = r.Image
			}
		}
	}
	return m
}

// CheckServices fails with an *UnknownImageError for the first update whose
// service is not configured for environment env (promote --set SERVICE=…).
func CheckServices(cfg *config.Config, env string, updates []Update) error {
	known := ConfiguredImages(cfg, env)
	for _, u := range updates {
		if _, ok := known[u.Service]; !ok {
			names := make([]string, 0, len(known))
			for n := range known {
				names = append(names, n)
			}
			sort.Strings(names)
			return &UnknownImageError{Env: env, Service: u.Service, Repository: u.Repository,
				Reason: fmt.Sprintf("service is not configured for this environment (configured: %s)", strings.Join(names, ", "))}
		}
	}
	return nil
}

// Probe values: rewriting to them reports every current value as Change.Old,
// so reading uses exactly the layouts writing uses.
const (
	probeTag    = "automator-probe"
	probeDigest = "sha256:0000000000000000000000000000000000000000000000000000000000000000"
)

// readImages finds the images pinned in files for each service → repository.
// Each file is read with one probe rewrite for every service not found in
// an earlier file (one parse per file, not per service: an environment of
// 2,000 services would otherwise parse its file 2,000 times); a service
// takes its values from the first file that pins its image.
func readImages(env config.Environment, files []file, images map[string]string) ([]Image, error) {
	names := make([]string, 0, len(images))
	for s := range images {
		names = append(names, s)
	}
	sort.Strings(names)
	found := map[string]Image{}
	for _, f := range files {
		want := map[string]string{}
		var ups []rewrite.Update
		probed := map[string]bool{} // canonical repositories
		for _, s := range names {
			if _, ok := found[s]; ok {
				continue
			}
			repo := images[s]
			want[s] = repo
			if k := rewrite.CanonicalRepository(repo); !probed[k] {
				probed[k] = true
				ups = append(ups, rewrite.Update{Repository: repo, Tag: probeTag, Digest: probeDigest})
			}
		}
		if len(ups) == 0 {
			break
		}
		opts, err := rewriteOptions(env, f.Path, want)
		if err != nil {
			return nil, err
		}
		_, res, err := rewrite.Rewrite(f.Path, f.Content, ups, opts...)
		if err != nil {
			return nil, fmt.Errorf("environment %q: reading %s: %w", env.Name, f.Path, err)
		}
		byRepo := map[string][]rewrite.Change{}
		for _, c := range res.Changes {
			if c.Old == "" {
				continue // an entry the rewriter would insert: not present
			}
			k := rewrite.CanonicalRepository(c.Repository)
			byRepo[k] = append(byRepo[k], c)
		}
		for s, repo := range want {
			cs := byRepo[rewrite.CanonicalRepository(repo)]
			if len(cs) == 0 {
				continue
			}
			img := Image{Service: s, Repository: repo}
			for _, c := range cs {
				img.File, img.Line = f.Path, c.Line
				switch c.Field {
				case "digest":
					img.Digest = c.Old
				case "ref":
					_, t, d := splitImageRef(c.Old)
					img.Tag, img.Digest = firstNonEmpty(t, img.Tag), firstNonEmpty(d, img.Digest)
				case "name":
				default:
					t, d, _ := strings.Cut(c.Old, "@")
					img.Tag = t
					img.Digest = firstNonEmpty(d, img.Digest)
				}
			}
			found[s] = img
		}
	}
	var out []Image
	for _, s := range names {
		if img, ok := found[s]; ok {
			out = append(out, img)
		}
	}
	return out, nil
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// splitImageRef splits REPO[:TAG][@DIGEST]; a registry port is not a tag.
func splitImageRef(s string) (repo, tag, digest string) {
	repo, digest, _ = strings.Cut(s, "@")
	if c := strings.LastIndexByte(repo, ':'); c > strings.LastIndexByte(repo, '/') {
		repo, tag = repo[:c], repo[c+1:]
	}
	return repo, tag, digest
}

// effective drops updates that change nothing in the files (already
// running): they would only clutter the PR.
func effective(updates []Update, eds []edited) []Update {
	touched := map[string]bool{}
	for _, e := range eds {
		for _, c := range e.Changes {
			touched[c.Repository] = true
		}
	}
	var out []Update
	for _, u := range updates {
		if touched[u.Repository] {
			out = append(out, u)
		}
	}
	return out
}
