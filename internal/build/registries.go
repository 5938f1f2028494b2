package build

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Registry is how builds reach one registry that base images (FROM) and caches come from: its
// credentials and whether it speaks plain HTTP. It is what registries[] in the config says, resolved
// (registry.Client.Hosts), so that a private or insecure base registry works for builds as it does
// for pushes.
type Registry struct {
	// Host is the registry host[:port] as images name it.
	Host string
	// Username and Password authenticate to Host; both empty: anonymous.
	Username, Password string
	// Insecure reaches Host over plain HTTP (or TLS without verification).
	Insecure bool
}

// WithRegistries passes registries' credentials and TLS settings to the builder. Credentials never
// appear on a command line or in a log: buildah reads them from an auth file (--authfile) in a
// directory only this process can read, which Close removes; insecure hosts are listed in a
// registries.conf there (CONTAINERS_REGISTRIES_CONF), so TLS verification is turned off for them
// alone, not for every pull.
func WithRegistries(regs ...Registry) Option {
	return func(o *options) error {
		for _, r := range regs {
			if r.Host == "" || strings.ContainsAny(r.Host, "\"\n/") {
				return fmt.Errorf("registry host %q: want host[:port]", r.Host)
			}
		}
		o.registries = append(o.registries, regs...)
		return nil
	}
}

// registryFiles are the auth file and registries.conf a builder passes to buildah, in a private
// directory.
type registryFiles struct {
	dir      string
	authFile string // "" when no registry has credentials
	conf     string // "" when no registry is insecure
}

// systemRegistriesConf is the registries.conf that CONTAINERS_REGISTRIES_CONF replaces; its settings
// (search registries, mirrors) are kept ahead of the insecure entries.
const systemRegistriesConf = "/etc/containers/registries.conf"

// writeRegistryFiles writes regs' auth file and registries.conf into a new 0700 directory; nil when
// there is nothing to write.
func writeRegistryFiles(regs []Registry, system string) (*registryFiles, error) {
	auths := map[string]map[string]string{}
	var insecure []string
	for _, r := range regs {
		if r.Username != "" || r.Password != "" {
			auths[r.Host] = map[string]string{"auth": base64.StdEncoding.EncodeToString([]byte(r.Username + ":" + r.Password))}
		}
		if r.Insecure {
			insecure = append(insecure, r.Host)
		}
	}
	if len(auths) == 0 && len(insecure) == 0 {
		return nil, nil
	}
	dir, err := os.MkdirTemp("", "automator-registries-")
	if err != nil {
		return nil, fmt.Errorf("creating the builder's registry settings: %w", err)
	}
	f := &registryFiles{dir: dir}
	if len(auths) > 0 {
		raw, err := json.Marshal(map[string]any{"auths": auths})
		if err != nil {
			return nil, errors.Join(err, os.RemoveAll(dir))
		}
		f.authFile = filepath.Join(dir, "auth.json")
		if err := os.WriteFile(f.authFile, raw, 0o600); err != nil {
			return nil, errors.Join(fmt.Errorf("writing the builder's auth file: %w", err), os.RemoveAll(dir))
		}
	}
	if len(insecure) > 0 {
		var b strings.Builder
		if raw, err := os.ReadFile(system); err == nil {
			b.Write(raw)
			b.WriteString("\n")
		}
		for _, h := range insecure {
			fmt.Fprintf(&b, "[[registry]]\nlocation = %s\ninsecure = true\n\n", strconv.Quote(h))
		}
		f.conf = filepath.Join(dir, "registries.conf")
		if err := os.WriteFile(f.conf, []byte(b.String()), 0o600); err != nil {
			return nil, errors.Join(fmt.Errorf("writing the builder's registries.conf: %w", err), os.RemoveAll(dir))
		}
	}
	return f, nil
}

// args are the buildah bud flags for f.
func (f *registryFiles) args() []string {
	if f == nil || f.authFile == "" {
		return nil
	}
	return []string{"--authfile", f.authFile}
}

// env adds CONTAINERS_REGISTRIES_CONF to environ (nil: the process's environment).
func (f *registryFiles) env(environ []string) []string {
	if f == nil || f.conf == "" {
		return environ
	}
	if environ == nil {
		environ = os.Environ()
	}
	return append(environ, "CONTAINERS_REGISTRIES_CONF="+f.conf)
}

func (f *registryFiles) remove() error {
	if f == nil {
		return nil
	}
	return os.RemoveAll(f.dir)
}
