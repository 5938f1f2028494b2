package promote

import (
	"fmt"
	"strings"

	"github.com/deployment-automator/automator/internal/gitops"
	"github.com/deployment-automator/automator/internal/rewrite"
)

// ParseSets parses explicit images SERVICE=REPOSITORY[:TAG]@DIGEST (promote
// --set); a bare SERVICE=[TAG]@DIGEST takes the service's image from images
// (ImagesFromConfig). Promotion pins digests, so one is required.
func ParseSets(images map[string]string, sets []string) ([]gitops.Update, error) {
	var out []gitops.Update
	for _, s := range sets {
		svc, ref, ok := strings.Cut(s, "=")
		if !ok || svc == "" || ref == "" {
			return nil, fmt.Errorf("--set %q: want SERVICE=REPOSITORY[:TAG]@DIGEST", s)
		}
		repo := images[svc]
		if strings.Contains(ref, "/") {
			name, rest, _ := strings.Cut(ref, "@")
			if i := strings.LastIndexByte(name, ':'); i > strings.LastIndexByte(name, '/') {
				repo, ref = name[:i], name[i+1:]+"@"+rest
			} else {
				repo, ref = name, "@"+rest
			}
		}
		if repo == "" {
			return nil, fmt.Errorf("--set %q: unknown service %q; name the repository: %s=REPOSITORY:TAG@DIGEST", s, svc, svc)
		}
		tag, digest, err := rewrite.ParseRef(ref)
		if err != nil {
			return nil, fmt.Errorf("--set %q: %v", s, err)
		}
		if digest == "" {
			return nil, fmt.Errorf("--set %q: promotion pins digests: add @sha256:…", s)
		}
		out = append(out, gitops.Update{Service: svc, Repository: repo, Tag: tag, Digest: digest})
	}
	return out, nil
}
