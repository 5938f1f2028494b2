package promote

import (
	"context"
	"fmt"
	"strings"

	"go.uber.org/zap"

	"github.com/deployment-automator/automator/internal/gitops"
	"github.com/deployment-automator/automator/internal/registry"
	"github.com/deployment-automator/automator/internal/rewrite"
)

// ParseSets parses explicit images SERVICE=REPOSITORY:TAG,
// SERVICE=REPOSITORY[:TAG]@DIGEST (promote --set), or a bare SERVICE=TAG,
// SERVICE=[TAG]@DIGEST that takes the service's image from images
// (ImagesFromConfig). Promotion pins digests: one that names only a tag
// gets its digest from the registry (ResolveSets).
func ParseSets(images map[string]string, sets []string) ([]gitops.Update, error) {
	var out []gitops.Update
	for _, s := range sets {
		svc, ref, ok := strings.Cut(s, "=")
		if !ok || svc == "" || ref == "" {
			return nil, fmt.Errorf("--set %q: want SERVICE=REPOSITORY:TAG or SERVICE=REPOSITORY[:TAG]@DIGEST", s)
		}
		repo := images[svc]
		if strings.Contains(ref, "/") {
			name, rest, hasAt := strings.Cut(ref, "@")
			at := ""
			if hasAt {
				at = "@" + rest
			}
			if i := strings.LastIndexByte(name, ':'); i > strings.LastIndexByte(name, '/') {
				repo, ref = name[:i], name[i+1:]+at
			} else {
				repo, ref = name, at
			}
		}
		if repo == "" {
			return nil, fmt.Errorf("--set %q: unknown service %q; name the repository: %s=REPOSITORY:TAG@DIGEST", s, svc, svc)
		}
		if ref == "" {
			return nil, fmt.Errorf("--set %q: name a tag or a digest: %s=%s:TAG", s, svc, repo)
		}
		tag, digest, err := rewrite.ParseRef(ref)
		if err != nil {
			return nil, fmt.Errorf("--set %q: %w", s, err)
		}
		out = append(out, gitops.Update{Service: svc, Repository: repo, Tag: tag, Digest: digest})
	}
	return out, nil
}

// SetError is an explicit image the registry contradicts: its tag is not
// there, or names another digest than the one given with it. Nothing is
// promoted; the CLI exits 2.
type SetError struct {
	// Ref is the image as given, REPOSITORY:TAG[@DIGEST].
	Ref string
	Err error
}

func (e *SetError) Error() string { return fmt.Sprintf("--set %s: %v", e.Ref, e.Err) }

// Unwrap returns the cause.
func (e *SetError) Unwrap() error { return e.Err }

// ResolveSets asks the registry for the digest of every update that names
// a tag: an update without digest gets it (a tag can move later; the
// promotion pins what it names now), and a TAG@DIGEST pair the registry
// disagrees with — or whose tag it does not have — is refused (*SetError),
// so a PR never shows a tag next to a digest it does not name. A registry
// that cannot be asked (unreachable) fails a bare tag, which has no digest
// to pin, but only warns (on log) for a TAG@DIGEST, whose digest is what
// gets pinned. A digest without tag is left as given.
func ResolveSets(ctx context.Context, r DigestResolver, updates []gitops.Update, log *zap.Logger) ([]gitops.Update, error) {
	out := make([]gitops.Update, len(updates))
	for i, u := range updates {
		out[i] = u
		if u.Tag == "" {
			continue
		}
		ref := u.Repository + ":" + u.Tag
		given := ref
		if u.Digest != "" {
			given += "@" + u.Digest
		}
		d, err := r.Digest(ctx, ref)
		switch {
		case err != nil && registry.IsNotFound(err):
			return nil, &SetError{Ref: given, Err: fmt.Errorf("the registry has no tag %s: %w", ref, err)}
		case err != nil && u.Digest != "":
			log.Warn("could not check the tag against the registry: pinning the digest given", zap.String("image", given), zap.Error(err))
			continue
		case err != nil:
			return nil, fmt.Errorf("resolving --set %s: %w", given, err)
		case u.Digest != "" && d.String() != u.Digest:
			return nil, &SetError{Ref: given, Err: fmt.Errorf("the registry says %s is %s, not %s", ref, d, u.Digest)}
		}
		out[i].Digest = d.String()
	}
	return out, nil
}
