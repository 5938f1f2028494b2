package gitops

import (
	"bytes"
	"fmt"
	"path"
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
// bytes changed, in path order.
func rewriteFiles(env config.Environment, files []file, updates []Update) ([]edited, error) {
	services := map[string]string{}
	rus := make([]rewrite.Update, 0, len(updates))
	for _, u := range updates {
		services[u.Service] = u.Repository
		rus = append(rus, rewrite.Update{Repository: u.Repository, Tag: u.Tag, Digest: u.Digest})
	}
	var out []edited
	for _, f := range files {
		opts, err := rewriteOptions(env, f.Path, services)
		if err != nil {
			return nil, err
		}
		nb, res, err := rewrite.Rewrite(f.Path, f.Content, rus, opts...)
		if err != nil {
			return nil, fmt.Errorf("environment %q: rewriting %s: %w", env.Name, f.Path, err)
		}
		if bytes.Equal(nb, f.Content) {
			continue
		}
		out = append(out, edited{file: f, New: nb, Changes: res.Changes,
			Diff: rewrite.UnifiedDiff("a/"+f.Path, "b/"+f.Path, f.Content, nb)})
	}
	return out, nil
}

// Probe values: rewriting to them reports every current value as Change.Old,
// so reading uses exactly the layouts writing uses.
const (
	probeTag    = "automator-probe"
	probeDigest = "sha256:0000000000000000000000000000000000000000000000000000000000000000"
)

// readImages finds the images pinned in files for each service → repository.
func readImages(env config.Environment, files []file, images map[string]string) ([]Image, error) {
	names := make([]string, 0, len(images))
	for s := range images {
		names = append(names, s)
	}
	sort.Strings(names)
	var out []Image
	for _, s := range names {
		repo := images[s]
		img := Image{Service: s, Repository: repo}
		found := false
		for _, f := range files {
			opts, err := rewriteOptions(env, f.Path, map[string]string{s: repo})
			if err != nil {
				return nil, err
			}
			_, res, err := rewrite.Rewrite(f.Path, f.Content, []rewrite.Update{{Repository: repo, Tag: probeTag, Digest: probeDigest}}, opts...)
			if err != nil {
				return nil, fmt.Errorf("environment %q: reading %s: %w", env.Name, f.Path, err)
			}
			for _, c := range res.Changes {
				if c.Old == "" {
					continue // an entry the rewriter would insert: not present
				}
				found = true
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
			if found {
				break
			}
		}
		if found {
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
