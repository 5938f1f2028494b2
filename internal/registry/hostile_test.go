package registry

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/deployment-automator/automator/internal/config"
)

func writeImage(t *testing.T, ref string, img v1.Image) v1.Hash {
	t.Helper()
	r, err := name.ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(r, img); err != nil {
		t.Fatal(err)
	}
	d, _ := img.Digest()
	return d
}

// copy SRC DST:tag@digest creates the tag once the digest is checked, and refuses a mismatch.
func TestCopyToTagAtDigest(t *testing.T) {
	ctx := context.Background()
	_, host := newRegistry(t)
	img, _ := random.Image(256, 1)
	other, _ := random.Image(256, 1)
	d := writeImage(t, host+"/app:1.0.0", img)
	od := writeImage(t, host+"/app:other", other)
	c := newClient(t)

	res, err := c.Copy(ctx, host+"/app:1.0.0", host+"/prod:1.0.0@"+d.String(), false)
	if err != nil {
		t.Fatal(err)
	}
	if got := headDigest(t, host+"/prod:1.0.0"); got != d {
		t.Errorf("prod:1.0.0 points to %s, want %s", got, d)
	}
	if want := host + "/prod:1.0.0@" + d.String(); res.Reference != want || !res.Changed {
		t.Errorf("copy result %+v, want %s, changed", res, want)
	}
	if _, err := c.Copy(ctx, host+"/app:other", host+"/prod:2.0.0@"+d.String(), false); err == nil || !strings.Contains(err.Error(), od.String()) {
		t.Errorf("copy of a source with another digest: %v, want a refusal naming %s", err, od)
	}
	r, _ := name.ParseReference(host + "/prod:2.0.0")
	if _, err := remote.Head(r); err == nil {
		t.Error("a refused copy created the tag")
	}
}

// tagPager serves tag-list pages that never end: each page is empty and links either to itself
// (loop) or to a new page (endless).
type tagPager struct {
	loop  bool
	pages atomic.Int32
}

func (p *tagPager) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/v2/" {
		return
	}
	n := p.pages.Add(1)
	next := r.URL.Path + "?" + r.URL.RawQuery
	if !p.loop {
		next = fmt.Sprintf("%s?n=1000&last=t%d", r.URL.Path, n)
	}
	w.Header().Set("Link", "<"+next+`>; rel="next"`)
	_ = json.NewEncoder(w).Encode(map[string]any{"name": "acme/app", "tags": []string{}})
}

// Tag pagination stops on a Link to a page already read, and at the page cap when every page is
// new but empty.
func TestTagPaginationStopsOnLoopsAndEmptyPages(t *testing.T) {
	for _, tc := range []struct {
		name      string
		loop      bool
		maxPages  int
		wantPages int32
	}{
		{"Link to itself", true, 50, 2},
		{"endless empty pages", false, 7, 7},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := &tagPager{loop: tc.loop}
			srv := httptest.NewServer(p)
			t.Cleanup(srv.Close)
			c := newClient(t, WithMaxTagPages(tc.maxPages))
			repo, _ := name.NewRepository(strings.TrimPrefix(srv.URL, "http://") + "/acme/app")
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			tags, truncated, err := c.Tags(ctx, repo, 10000)
			if err != nil {
				t.Fatalf("listing: %v (after %d pages)", err, p.pages.Load())
			}
			if len(tags) != 0 || !truncated || p.pages.Load() != tc.wantPages {
				t.Errorf("%d tags, truncated %v after %d pages; want 0, true after %d", len(tags), truncated, p.pages.Load(), tc.wantPages)
			}
		})
	}
}

// headerRecorder records the Authorization header of every request, then serves next.
type headerRecorder struct {
	next http.Handler
	mu   sync.Mutex
	auth []string
}

func (h *headerRecorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.mu.Lock()
	h.auth = append(h.auth, r.Header.Get("Authorization"))
	h.mu.Unlock()
	h.next.ServeHTTP(w, r)
}

// A registry that redirects blob downloads to another host (as registries do to storage) must not
// receive the registry credentials there, even on the same IP with another port.
func TestRegistryCredentialsNotSentAcrossRedirect(t *testing.T) {
	inner := ggcrregistry.New(ggcrregistry.Logger(log.New(io.Discard, "", 0)))
	storage := &headerRecorder{next: inner}
	storageSrv := httptest.NewServer(storage)
	t.Cleanup(storageSrv.Close)
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != "ci" || p != "s3cret" {
			w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		if r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/blobs/sha256:") {
			http.Redirect(w, r, storageSrv.URL+r.URL.Path, http.StatusFound)
			return
		}
		inner.ServeHTTP(w, r)
	}))
	t.Cleanup(front.Close)
	host := strings.TrimPrefix(front.URL, "http://")
	img, _ := random.Image(256, 1)
	d, _ := img.Digest()
	// Seed through the storage side (no auth) under the same repository.
	writeImage(t, strings.TrimPrefix(storageSrv.URL, "http://")+"/acme/app:1.0.0", img)

	storage.mu.Lock()
	storage.auth = nil
	storage.mu.Unlock()

	env := map[string]string{"REG_PASS": "s3cret"}
	c, err := New(WithRegistries([]config.Registry{{Host: host, Username: "ci", PasswordEnv: "REG_PASS"}}, func(k string) string { return env[k] }))
	if err != nil {
		t.Fatal(err)
	}
	tag, _ := name.NewTag(host + "/acme/app:1.0.0")
	if _, err := c.Describe(context.Background(), tag); err != nil {
		t.Fatalf("describe through the redirecting registry: %v", err)
	}
	ri, err := c.Image(context.Background(), host+"/acme/app@"+d.String())
	if err != nil {
		t.Fatal(err)
	}
	layers, _ := ri.Layers()
	rc, err := layers[0].Compressed()
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, rc)
	_ = rc.Close()
	storage.mu.Lock()
	defer storage.mu.Unlock()
	for _, a := range storage.auth {
		if a != "" {
			t.Errorf("the storage host received Authorization %q", a)
		}
	}
	if len(storage.auth) < 2 {
		t.Errorf("storage saw %d requests, want the redirected config and layer downloads", len(storage.auth))
	}
}

// TestManifestMediaTypeMustBeImage: a registry answering a tag's manifest with an HTML page (a 200
// from a broken proxy) has a digest of that page; Head and Describe refuse it instead of handing it
// to the watcher, and accept an image manifest served the same way. Describe also refuses a manifest
// whose bytes do not hash to the digest the registry announces.
func TestManifestMediaTypeMustBeImage(t *testing.T) {
	img, _ := random.Image(64, 1)
	manifest, _ := img.RawManifest()
	mt, _ := img.MediaType()
	imgDigest, _ := img.Digest()
	config, _ := img.RawConfigFile()
	for _, tc := range []struct {
		name    string
		ctype   string
		body    []byte
		digest  string // Docker-Content-Digest; the body's when empty
		wantErr error  // of Describe; Head sees only headers, so only ErrNotImage
	}{
		{"HTML page", "text/html", []byte("<html><body>maintenance</body></html>"), "", ErrNotImage},
		{"JSON of another kind", "application/json", []byte(`{"errors":[]}`), "", ErrNotImage},
		{"image manifest", string(mt), manifest, "", nil},
		{"image manifest under another digest", string(mt), manifest, "sha256:" + strings.Repeat("0", 64), ErrDigestMismatch},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if strings.Contains(r.URL.Path, "/blobs/") {
					_, _ = w.Write(config)
					return
				}
				if !strings.Contains(r.URL.Path, "/manifests/") {
					return
				}
				w.Header().Set("Content-Type", tc.ctype)
				d := fmt.Sprintf("sha256:%x", sha256.Sum256(tc.body))
				if tc.digest != "" {
					d = tc.digest
				}
				w.Header().Set("Docker-Content-Digest", d)
				w.Header().Set("Content-Length", fmt.Sprint(len(tc.body)))
				if r.Method == http.MethodGet {
					_, _ = w.Write(tc.body)
				}
			}))
			t.Cleanup(srv.Close)
			c := newClient(t)
			tag, _ := name.NewTag(strings.TrimPrefix(srv.URL, "http://") + "/acme/app:2.0.0")
			d, herr := c.Head(context.Background(), tag)
			if tc.wantErr == ErrNotImage != errors.Is(herr, ErrNotImage) {
				t.Errorf("Head: %v, want ErrNotImage: %v", herr, tc.wantErr == ErrNotImage)
			}
			img, derr := c.Describe(context.Background(), tag)
			if (tc.wantErr == nil) != (derr == nil) || tc.wantErr != nil && !errors.Is(derr, tc.wantErr) {
				t.Errorf("Describe: %v, want %v", derr, tc.wantErr)
			}
			if tc.digest == "" && tc.wantErr == nil && (d != imgDigest.String() || img.Digest != imgDigest.String()) {
				t.Errorf("Head = %s, Describe = %s, want %s", d, img.Digest, imgDigest)
			}
		})
	}
}
