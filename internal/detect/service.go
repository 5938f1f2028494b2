package detect

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"
	"text/template"

	"github.com/deployment-automator/automator/internal/config"
)

// Service is a service of the monorepo as change detection sees it: an
// explicit services[] entry or one created by discover, with every path
// resolved relative to the repository root.
type Service struct {
	// Name is the unique service name.
	Name string
	// Image is the image repository (no tag).
	Image string
	// Context is the build context directory ("." for the repository root).
	Context string
	// Dockerfile is the Dockerfile path.
	Dockerfile string
	// Paths are the extra trigger globs from config, in order.
	Paths []string
	// DependsOn lists service names and path globs from config.
	DependsOn []string
	// Args and Target are the build arguments and stage, which decide which
	// Dockerfile stages and sources count.
	Args   map[string]string
	Target string
	// KeyPath locates the service in automator.yaml for error messages:
	// "services[3]" or "discover".
	KeyPath string
	// Discovered is true for services created by discover.
	Discovered bool
}

// Services returns the services of cfg — explicit entries first, then the
// discovered ones sorted by name — resolved against tree, the repository at
// the head commit. Discovery creates one service per immediate subfolder of
// discover.root holding discover.dockerfile; an explicit service whose
// context is that folder replaces the discovered one, and any other clash of
// names or images is an error. Mistakes are returned as a *config.Error
// naming file, line and key.
func Services(cfg *config.Config, tree fs.FS) ([]Service, error) {
	var ps []config.Problem
	var out []Service
	for i, s := range cfg.Services {
		key := fmt.Sprintf("services[%d]", i)
		df := s.Dockerfile
		if df == "" {
			df = path.Join(cleanPath(s.Context), "Dockerfile")
		}
		out = append(out, Service{
			Name: s.Name, Image: s.Image, Context: cleanPath(s.Context), Dockerfile: cleanPath(df),
			Paths: s.Paths, DependsOn: s.DependsOn, Args: s.Args, Target: s.Target, KeyPath: key,
		})
	}
	if d := cfg.Discover; d != nil {
		found, problems := discover(cfg, d, tree, out)
		ps = append(ps, problems...)
		out = append(out, found...)
	}
	for _, s := range out {
		ps = append(ps, checkServiceTree(cfg, s, tree)...)
	}
	if len(ps) > 0 {
		return nil, &config.Error{Problems: ps}
	}
	return out, nil
}

func discover(cfg *config.Config, d *config.Discover, tree fs.FS, explicit []Service) ([]Service, []config.Problem) {
	root := cleanPath(d.Root)
	dfName := d.Dockerfile
	if dfName == "" {
		dfName = "Dockerfile"
	}
	imgTmpl := d.Image
	if imgTmpl == "" {
		imgTmpl = "{{ .Registry }}/{{ .Name }}"
	}
	tmpl, err := template.New("image").Option("missingkey=error").Parse(imgTmpl)
	if err != nil {
		return nil, []config.Problem{cfg.Problemf("discover.image", "invalid template %q: %v", imgTmpl, err)}
	}
	entries, err := fs.ReadDir(tree, root)
	if err != nil {
		return nil, []config.Problem{cfg.Problemf("discover.root", "reading %q: %v", root, err)}
	}
	byName := map[string]Service{}
	byImage := map[string]Service{}
	for _, s := range explicit {
		byName[s.Name] = s
		byImage[s.Image] = s
	}
	var ps []config.Problem
	var found []Service
	for _, e := range entries {
		if !e.IsDir() || slices.Contains(d.Exclude, e.Name()) {
			continue
		}
		dir := path.Join(root, e.Name())
		df := path.Join(dir, dfName)
		if st, err := fs.Stat(tree, df); err != nil || st.IsDir() {
			continue
		}
		name := e.Name()
		if ex, ok := byName[name]; ok {
			if ex.Context == dir {
				continue // the explicit entry configures this folder
			}
			ps = append(ps, cfg.Problemf("discover.root", "discovered service %q (folder %s) has the same name as %s (context %s); exclude the folder or rename the service", name, dir, ex.KeyPath, ex.Context))
			continue
		}
		var b strings.Builder
		if err := tmpl.Execute(&b, struct{ Registry, Name string }{Registry: cfg.Registry, Name: name}); err != nil {
			ps = append(ps, cfg.Problemf("discover.image", "image template for %q: %v", name, err))
			continue
		}
		img := strings.TrimPrefix(b.String(), "/")
		if ex, ok := byImage[img]; ok {
			ps = append(ps, cfg.Problemf("discover.image", "discovered service %q gets image %q, already used by %s (%s)", name, img, ex.KeyPath, ex.Name))
			continue
		}
		s := Service{Name: name, Image: img, Context: dir, Dockerfile: df, KeyPath: "discover", Discovered: true}
		byName[name], byImage[img] = s, s
		found = append(found, s)
	}
	return found, ps
}

// checkServiceTree reports a context or Dockerfile missing at head.
func checkServiceTree(cfg *config.Config, s Service, tree fs.FS) []config.Problem {
	ctxKey, dfKey := s.KeyPath+".context", s.KeyPath+".dockerfile"
	if s.Discovered {
		ctxKey, dfKey = "discover.root", "discover.dockerfile"
	}
	st, err := fs.Stat(tree, s.Context)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return []config.Problem{cfg.Problemf(ctxKey, "service %q: build context %q does not exist", s.Name, s.Context)}
	case err != nil:
		return []config.Problem{cfg.Problemf(ctxKey, "service %q: build context %q: %v", s.Name, s.Context, err)}
	case !st.IsDir():
		return []config.Problem{cfg.Problemf(ctxKey, "service %q: build context %q is not a directory", s.Name, s.Context)}
	}
	if st, err := fs.Stat(tree, s.Dockerfile); err != nil || st.IsDir() {
		if !s.Discovered && cfg.Pos(dfKey).Line == 0 {
			dfKey = ctxKey // the Dockerfile path was defaulted from the context
		}
		return []config.Problem{cfg.Problemf(dfKey, "service %q: Dockerfile %q does not exist", s.Name, s.Dockerfile)}
	}
	return nil
}

// cleanPath normalises a repository-relative path: no leading "./" or "/",
// "." for the root.
func cleanPath(p string) string {
	p = strings.TrimPrefix(p, "/")
	p = path.Clean(p)
	if p == "" {
		return "."
	}
	return p
}
