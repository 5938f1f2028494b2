package registry

import (
	"maps"
	"slices"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/deployment-automator/automator/internal/build"
)

// BuildRegistries is what builders need to pull base images from the registries this client knows:
// the credentials config gave for each host (registries[], and GITHUB_TOKEN for ghcr.io) and the
// hosts reached over plain HTTP, sorted by host. Docker Hub is named docker.io, as builders' auth
// files spell it. The values travel to build.WithRegistries only, never to a log.
func (c *Client) BuildRegistries() []build.Registry {
	byHost := map[string]*build.Registry{}
	get := func(host string) *build.Registry {
		if host == name.DefaultRegistry {
			host = "docker.io"
		}
		if r, ok := byHost[host]; ok {
			return r
		}
		r := &build.Registry{Host: host}
		byHost[host] = r
		return r
	}
	for host, a := range c.static {
		r := get(host)
		r.Username, r.Password = a.Username, a.Password
	}
	if c.ghToken != "" {
		if r := get(GHCR); r.Password == "" {
			r.Username, r.Password = c.ghUser, c.ghToken
			if r.Username == "" {
				r.Username = "automator"
			}
		}
	}
	for host := range c.insecure {
		get(host).Insecure = true
	}
	out := make([]build.Registry, 0, len(byHost))
	for _, h := range slices.Sorted(maps.Keys(byHost)) {
		out = append(out, *byHost[h])
	}
	return out
}
