package webhook

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// splitHost splits "host[:port]/path" into host and path when the first
// component looks like a registry host (has a dot or a port, or is
// localhost), as docker's reference grammar does; otherwise host is "".
func splitHost(ref string) (host, path string) {
	first, rest, ok := strings.Cut(ref, "/")
	if ok && (strings.ContainsAny(first, ".:") || first == "localhost") {
		return first, rest
	}
	return "", ref
}

// splitTag splits "repo:tag" (not a port) into repo and tag.
func splitTag(ref string) (repo, tag string) {
	if i := strings.LastIndexByte(ref, ':'); i > strings.LastIndexByte(ref, '/') {
		return ref[:i], ref[i+1:]
	}
	return ref, ""
}

func orNow(t, now time.Time) time.Time {
	if t.IsZero() || t.Unix() <= 0 {
		return now
	}
	return t
}

// parseDistribution reads a CNCF distribution notification envelope
// (application/vnd.docker.distribution.events.v1+json or v2): only
// manifest pushes count; blob pushes and pulls are ignored.
func parseDistribution(_ http.Header, body []byte, now time.Time) ([]Event, error) {
	var env struct {
		Events []struct {
			Timestamp time.Time `json:"timestamp"`
			Action    string    `json:"action"`
			Target    struct {
				MediaType  string `json:"mediaType"`
				Digest     string `json:"digest"`
				Repository string `json:"repository"`
				Tag        string `json:"tag"`
				URL        string `json:"url"`
			} `json:"target"`
			Request struct {
				Host string `json:"host"`
			} `json:"request"`
		} `json:"events"`
	}
	if err := json.Unmarshal(body, &env); err != nil {
		return nil, fmt.Errorf("decoding distribution envelope: %w", err)
	}
	var out []Event
	for i, e := range env.Events {
		if e.Action != "push" || strings.HasPrefix(e.Target.MediaType, "application/octet-stream") ||
			(e.Target.Tag == "" && !strings.Contains(e.Target.MediaType, "manifest") && !strings.Contains(e.Target.MediaType, "index")) {
			continue
		}
		if e.Target.Repository == "" {
			return nil, fmt.Errorf("events[%d].target.repository is empty", i)
		}
		host := e.Request.Host
		if host == "" {
			if u, err := url.Parse(e.Target.URL); err == nil {
				host = u.Host
			}
		}
		out = append(out, Event{Host: host, Repository: e.Target.Repository, Tag: e.Target.Tag,
			Digest: e.Target.Digest, PushedAt: orNow(e.Timestamp, now)})
	}
	return out, nil
}

// parseDockerHub reads a Docker Hub repository webhook (push_data, repository).
func parseDockerHub(_ http.Header, body []byte, now time.Time) ([]Event, error) {
	var p struct {
		PushData *struct {
			PushedAt int64  `json:"pushed_at"`
			Tag      string `json:"tag"`
		} `json:"push_data"`
		Repository struct {
			RepoName string `json:"repo_name"`
		} `json:"repository"`
	}
	if err := json.Unmarshal(body, &p); err != nil {
		return nil, fmt.Errorf("decoding Docker Hub payload: %w", err)
	}
	if p.PushData == nil {
		return nil, nil
	}
	if p.Repository.RepoName == "" {
		return nil, errors.New("repository.repo_name is empty")
	}
	repo := p.Repository.RepoName
	if !strings.Contains(repo, "/") {
		repo = "library/" + repo
	}
	return []Event{{Host: "docker.io", Repository: repo, Tag: p.PushData.Tag,
		PushedAt: orNow(time.Unix(p.PushData.PushedAt, 0), now)}}, nil
}

// parseHarbor reads a Harbor webhook (type PUSH_ARTIFACT; other types are ignored).
func parseHarbor(_ http.Header, body []byte, now time.Time) ([]Event, error) {
	var p struct {
		Type      string `json:"type"`
		OccurAt   int64  `json:"occur_at"`
		EventData struct {
			Resources []struct {
				Digest      string `json:"digest"`
				Tag         string `json:"tag"`
				ResourceURL string `json:"resource_url"`
			} `json:"resources"`
			Repository struct {
				RepoFullName string `json:"repo_full_name"`
			} `json:"repository"`
		} `json:"event_data"`
	}
	if err := json.Unmarshal(body, &p); err != nil {
		return nil, fmt.Errorf("decoding Harbor payload: %w", err)
	}
	if p.Type != "PUSH_ARTIFACT" && p.Type != "pushImage" {
		return nil, nil
	}
	repo := p.EventData.Repository.RepoFullName
	if repo == "" {
		return nil, errors.New("event_data.repository.repo_full_name is empty")
	}
	at := orNow(time.Unix(p.OccurAt, 0), now)
	var out []Event
	for _, r := range p.EventData.Resources {
		host, _ := splitHost(r.ResourceURL)
		out = append(out, Event{Host: host, Repository: repo, Tag: r.Tag, Digest: r.Digest, PushedAt: at})
	}
	if len(out) == 0 {
		out = append(out, Event{Repository: repo, PushedAt: at})
	}
	return out, nil
}

// ghPackage is the package object of GitHub's package and registry_package events.
type ghPackage struct {
	Name           string `json:"name"`
	Namespace      string `json:"namespace"`
	PackageType    string `json:"package_type"`
	Ecosystem      string `json:"ecosystem"`
	PackageVersion *struct {
		Version           string    `json:"version"`
		PackageURL        string    `json:"package_url"`
		CreatedAt         time.Time `json:"created_at"`
		UpdatedAt         time.Time `json:"updated_at"`
		ContainerMetadata *struct {
			Tag struct {
				Name   string `json:"name"`
				Digest string `json:"digest"`
			} `json:"tag"`
		} `json:"container_metadata"`
	} `json:"package_version"`
	Registry *struct {
		URL string `json:"url"`
	} `json:"registry"`
}

// parseGitHub reads GitHub's registry_package and package events for
// container packages (GHCR); ping and other events are ignored.
func parseGitHub(h http.Header, body []byte, now time.Time) ([]Event, error) {
	kind := h.Get("X-GitHub-Event")
	if kind != "package" && kind != "registry_package" {
		return nil, nil
	}
	var p struct {
		Action          string     `json:"action"`
		Package         *ghPackage `json:"package"`
		RegistryPackage *ghPackage `json:"registry_package"`
	}
	if err := json.Unmarshal(body, &p); err != nil {
		return nil, fmt.Errorf("decoding GitHub %s event: %w", kind, err)
	}
	pkg := p.Package
	if kind == "registry_package" {
		pkg = p.RegistryPackage
	}
	if pkg == nil {
		return nil, fmt.Errorf("GitHub %s event has no %s object", kind, kind)
	}
	if p.Action != "published" && p.Action != "updated" {
		return nil, nil
	}
	if !isContainer(pkg.PackageType) && !isContainer(pkg.Ecosystem) {
		return nil, nil
	}
	ev := Event{Host: "ghcr.io", Repository: strings.ToLower(pkg.Namespace + "/" + pkg.Name), PushedAt: now}
	if pkg.Registry != nil {
		if u, err := url.Parse(pkg.Registry.URL); err == nil && u.Host != "" {
			ev.Host = u.Host
		}
	}
	if v := pkg.PackageVersion; v != nil {
		if v.PackageURL != "" {
			host, path := splitHost(v.PackageURL)
			repo, tag := splitTag(path)
			if host != "" {
				ev.Host = host
			}
			ev.Repository, ev.Tag = strings.ToLower(repo), tag
		}
		if m := v.ContainerMetadata; m != nil {
			if m.Tag.Name != "" {
				ev.Tag = m.Tag.Name
			}
			ev.Digest = m.Tag.Digest
		}
		if ev.Digest == "" && strings.HasPrefix(v.Version, "sha256:") {
			ev.Digest = v.Version
		}
		at := v.UpdatedAt
		if at.IsZero() {
			at = v.CreatedAt
		}
		ev.PushedAt = orNow(at, now)
	}
	if strings.HasPrefix(ev.Repository, "/") || strings.HasSuffix(ev.Repository, "/") {
		return nil, fmt.Errorf("package names no repository (namespace %q, name %q)", pkg.Namespace, pkg.Name)
	}
	return []Event{ev}, nil
}

func isContainer(kind string) bool {
	return strings.EqualFold(kind, "container") || strings.EqualFold(kind, "docker")
}

// parseGeneric reads {"repository": "[host/]path", "tag": "…", "digest": "…"},
// for CI systems and registries without a receiver of their own.
func parseGeneric(_ http.Header, body []byte, now time.Time) ([]Event, error) {
	var p struct {
		Repository string    `json:"repository"`
		Tag        string    `json:"tag"`
		Digest     string    `json:"digest"`
		PushedAt   time.Time `json:"pushedAt"`
	}
	if err := json.Unmarshal(body, &p); err != nil {
		return nil, fmt.Errorf("decoding generic payload: %w", err)
	}
	if p.Repository == "" {
		return nil, errors.New("repository is empty")
	}
	host, path := splitHost(p.Repository)
	return []Event{{Host: host, Repository: path, Tag: p.Tag, Digest: p.Digest, PushedAt: orNow(p.PushedAt, now)}}, nil
}
