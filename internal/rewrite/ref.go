package rewrite

import (
	"fmt"
	"regexp"
	"strings"
	"sync"
)

// Update is one requested image change: every reference to Repository in a
// file is moved to Tag and/or Digest. An empty Tag leaves tags alone and an
// empty Digest leaves digests alone, so "set the digest only" and "set the tag
// only" are both expressible.
type Update struct {
	// Repository is the image repository as users write it, e.g.
	// ghcr.io/acme/cart, nginx or registry.local:5000/team/app. Matching is
	// done on the normalised form (docker.io/library/ rules).
	Repository string
	// Tag is the new tag, e.g. 1.4.0.
	Tag string
	// Digest is the new manifest digest, e.g. sha256:0123….
	Digest string
}

// String renders the update as REPOSITORY[:TAG][@DIGEST].
func (u Update) String() string {
	return joinRef(u.Repository, u.Tag, u.Digest)
}

var (
	tagRE    = lazyRegexp(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$`)
	digestRE = lazyRegexp(`^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]{32,}$`)
	repoRE   = lazyRegexp(`^[A-Za-z0-9][A-Za-z0-9._:/-]*$`)
)

// ParseRef parses the new-reference part of an update: "TAG", "@DIGEST" or
// "TAG@DIGEST". Tags follow the OCI distribution grammar and digests must be
// algorithm:hex (e.g. sha256:…), so a typo cannot be written into manifests.
func ParseRef(s string) (tag, digest string, err error) {
	tag, digest, hasAt := strings.Cut(s, "@")
	if !hasAt && strings.HasPrefix(s, "sha256:") {
		return "", "", fmt.Errorf("parsing reference %q: a digest must be written @%s", s, s)
	}
	if tag == "" && !hasAt {
		return "", "", fmt.Errorf("parsing reference %q: empty reference", s)
	}
	if tag != "" && !tagRE().MatchString(tag) {
		return "", "", fmt.Errorf("parsing reference %q: invalid tag %q", s, tag)
	}
	if hasAt && !digestRE().MatchString(digest) {
		return "", "", fmt.Errorf("parsing reference %q: invalid digest %q", s, digest)
	}
	return tag, digest, nil
}

// ParseUpdate parses REPOSITORY=NEWREF as accepted by `automator rewrite
// --set`, where NEWREF is what ParseRef accepts.
func ParseUpdate(s string) (Update, error) {
	repo, ref, ok := strings.Cut(s, "=")
	if !ok || repo == "" {
		return Update{}, fmt.Errorf("parsing update %q: want REPOSITORY=TAG, REPOSITORY=@DIGEST or REPOSITORY=TAG@DIGEST", s)
	}
	if !repoRE().MatchString(repo) || strings.Contains(repo, "@") {
		return Update{}, fmt.Errorf("parsing update %q: invalid repository %q", s, repo)
	}
	if r, t, _ := splitImage(repo); t != "" {
		return Update{}, fmt.Errorf("parsing update %q: repository %q carries a tag %q; put it after =", s, r, t)
	}
	tag, digest, err := ParseRef(ref)
	if err != nil {
		return Update{}, fmt.Errorf("parsing update %q: %w", s, err)
	}
	return Update{Repository: repo, Tag: tag, Digest: digest}, nil
}

func (u Update) validate() error {
	if u.Repository == "" || !repoRE().MatchString(u.Repository) {
		return fmt.Errorf("invalid update %q: invalid repository", u.String())
	}
	if u.Tag == "" && u.Digest == "" {
		return fmt.Errorf("invalid update for %q: neither tag nor digest given", u.Repository)
	}
	if u.Tag != "" && !tagRE().MatchString(u.Tag) {
		return fmt.Errorf("invalid update for %q: invalid tag %q", u.Repository, u.Tag)
	}
	if u.Digest != "" && !digestRE().MatchString(u.Digest) {
		return fmt.Errorf("invalid update for %q: invalid digest %q", u.Repository, u.Digest)
	}
	return nil
}

// splitImage splits an image reference string REPO[:TAG][@DIGEST]. The tag
// separator is the last colon after the last slash, so a registry port
// (host:5000/app) is never mistaken for a tag.
func splitImage(s string) (repo, tag, digest string) {
	repo, digest, _ = strings.Cut(s, "@")
	slash := strings.LastIndexByte(repo, '/')
	if colon := strings.LastIndexByte(repo, ':'); colon > slash {
		repo, tag = repo[:colon], repo[colon+1:]
	}
	return repo, tag, digest
}

// joinRef is the inverse of splitImage.
func joinRef(repo, tag, digest string) string {
	s := repo
	if tag != "" {
		s += ":" + tag
	}
	if digest != "" {
		s += "@" + digest
	}
	return s
}

// combineTag applies an update to a value that holds TAG[@DIGEST] (a Helm tag
// field in combined form or the tail of an image string). A tag-only update
// drops the old digest, because a stale digest would silently win over the new
// tag at pull time; a digest-only update keeps the tag for readability.
func combineTag(oldTag string, u Update) (tag, digest string) {
	if u.Tag != "" {
		return u.Tag, u.Digest
	}
	return oldTag, u.Digest
}

// normalizeRepository returns the canonical registry/path form of an image
// repository using Docker's rules: no registry means docker.io, a single path
// element on docker.io lives under library/, and index.docker.io is docker.io.
// The registry host is lower-cased; the path is kept as written.
func normalizeRepository(s string) string {
	s = strings.TrimSpace(s)
	host, rest, ok := strings.Cut(s, "/")
	if !ok || !(strings.ContainsAny(host, ".:") || host == "localhost" || strings.ToLower(host) != host) {
		host, rest = "docker.io", s
	}
	host = strings.ToLower(host)
	if host == "index.docker.io" || host == "registry-1.docker.io" || host == "registry.hub.docker.com" {
		host = "docker.io"
	}
	if host == "docker.io" && !strings.Contains(rest, "/") {
		rest = "library/" + rest
	}
	return host + "/" + rest
}

// sameRepository reports whether two repository strings name the same image.
func sameRepository(a, b string) bool {
	if a == "" || b == "" {
		return false
	}
	return normalizeRepository(a) == normalizeRepository(b)
}

// CanonicalRepository is the form SameRepository compares
// (docker.io/library/nginx for nginx): a map key for repositories.
func CanonicalRepository(s string) string { return normalizeRepository(s) }

// SameRepository reports whether two repository strings name the same image
// under Docker's rules (nginx = docker.io/library/nginx), the way the
// rewriter matches updates to files.
func SameRepository(a, b string) bool { return sameRepository(a, b) }

// underRepository reports whether image lives below prefix (prefix + "/" + more),
// the shape of a tag shared by every image under one repository prefix.
func underRepository(image, prefix string) bool {
	np, ok := sharedPrefix(prefix)
	return ok && image != "" && strings.HasPrefix(normalizeRepository(image), np+"/")
}

// sharedPrefix returns the normalized form of a repository prefix that
// images may live under (docker.io/acme for acme), false when prefix
// cannot be one.
func sharedPrefix(prefix string) (string, bool) {
	if prefix == "" || strings.HasPrefix(prefix, "docker.io") && !strings.Contains(prefix, "/") {
		return "", false
	}
	np := normalizeRepository(prefix)
	if strings.HasPrefix(np, "docker.io/library/") && !strings.Contains(strings.TrimPrefix(prefix, "docker.io/"), "/") {
		np = "docker.io/" + strings.TrimPrefix(np, "docker.io/library/")
	}
	return np, true
}

// templated reports whether a value is a template or variable rather than a
// literal image reference (Helm {{ }}, shell ${ }, Kargo ${{ }}).
func templated(s string) bool {
	return strings.Contains(s, "{{") || strings.Contains(s, "${")
}

// lazyRegexp compiles expr on first use: package-level regexps compiled at
// init cost every automator process start-up, whatever the command.
func lazyRegexp(expr string) func() *regexp.Regexp {
	return sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(expr) })
}
