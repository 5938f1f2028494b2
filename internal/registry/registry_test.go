package registry

import (
	"context"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/deployment-automator/automator/internal/config"
	"github.com/deployment-automator/automator/internal/transport"
)

// counter is an http.Handler decorator that records "METHOD path" of every request and can answer the
// first requests matching a prefix with a canned status.
type counter struct {
	next http.Handler

	mu       sync.Mutex
	reqs     []string
	failN    int
	failPfx  string
	failCode int
	failHdr  http.Header
	user     string
	pass     string
}

func (c *counter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c.mu.Lock()
	c.reqs = append(c.reqs, r.Method+" "+r.URL.Path)
	fail := c.failN > 0 && strings.HasPrefix(r.Method+" "+r.URL.Path, c.failPfx)
	if fail {
		c.failN--
	}
	c.mu.Unlock()
	if c.user != "" {
		if u, p, ok := r.BasicAuth(); !ok || u != c.user || p != c.pass {
			w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
	}
	if fail {
		for k, v := range c.failHdr {
			w.Header()[k] = v
		}
		w.WriteHeader(c.failCode)
		return
	}
	c.next.ServeHTTP(w, r)
}

// count returns how many recorded requests start with prefix ("PUT /v2/", "PATCH ", …).
func (c *counter) count(prefix string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, r := range c.reqs {
		if strings.HasPrefix(r, prefix) {
			n++
		}
	}
	return n
}

// uploads counts requests that transfer or start transferring blob data.
func (c *counter) uploads() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, r := range c.reqs {
		if strings.Contains(r, "/blobs/uploads") {
			n++
		}
	}
	return n
}

func (c *counter) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.reqs = nil
}

func newRegistry(t *testing.T) (*counter, string) {
	t.Helper()
	c := &counter{next: ggcrregistry.New(ggcrregistry.Logger(log.New(io.Discard, "", 0)))}
	srv := httptest.NewServer(c)
	t.Cleanup(srv.Close)
	return c, strings.TrimPrefix(srv.URL, "http://")
}

func noSleep(context.Context, time.Duration) error { return nil }

func newClient(t *testing.T, opts ...Option) *Client {
	t.Helper()
	c, err := New(append([]Option{WithKeychain(authn.NewMultiKeychain()), WithRetry(transport.WithSleep(noSleep))}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// writeLayout stores t in a fresh OCI layout and returns the directory and its digest.
func writeLayout(t *testing.T, tg interface{ Digest() (v1.Hash, error) }) (string, v1.Hash) {
	t.Helper()
	dir := t.TempDir()
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	switch x := tg.(type) {
	case v1.ImageIndex:
		err = p.AppendIndex(x)
	case v1.Image:
		err = p.AppendImage(x)
	}
	if err != nil {
		t.Fatal(err)
	}
	d, err := tg.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return dir, d
}

func headDigest(t *testing.T, ref string) v1.Hash {
	t.Helper()
	r, err := name.ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	d, err := remote.Head(r)
	if err != nil {
		t.Fatalf("HEAD %s: %v", ref, err)
	}
	return d.Digest
}

func TestPushLayoutImageAndIndex(t *testing.T) {
	img, err := random.Image(1024, 3)
	if err != nil {
		t.Fatal(err)
	}
	idx, err := random.Index(512, 2, 2)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		tg   interface{ Digest() (v1.Hash, error) }
		tags []string
	}{
		{"image two tags", img, []string{"sha-0123456789ab", "1.2.3"}},
		{"index one tag", idx, []string{"sha-0123456789ab"}},
		{"image by digest only", img, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cnt, host := newRegistry(t)
			dir, digest := writeLayout(t, tc.tg)
			c := newClient(t)
			repos := []string{host + "/team/svc", host + "/mirror/svc"}
			got, err := c.Push(context.Background(), dir, digest, repos, tc.tags)
			if err != nil {
				t.Fatal(err)
			}
			if got.Digest != digest {
				t.Errorf("digest = %s, want %s", got.Digest, digest)
			}
			want := len(repos) * max(len(tc.tags), 1)
			if len(got.References) != want {
				t.Fatalf("references = %v, want %d", got.References, want)
			}
			for _, ref := range got.References {
				if !strings.HasSuffix(ref, "@"+digest.String()) {
					t.Errorf("reference %q is not pinned to %s", ref, digest)
				}
				check := strings.Split(ref, "@")[0]
				if len(tc.tags) == 0 {
					check = ref
				}
				if d := headDigest(t, check); d != digest {
					t.Errorf("%s resolves to %s, want %s", ref, d, digest)
				}
			}

			// Pushing again transfers no blob and rewrites no manifest.
			cnt.reset()
			if _, err := c.Push(context.Background(), dir, digest, repos, tc.tags); err != nil {
				t.Fatal(err)
			}
			if n := cnt.uploads(); n != 0 {
				t.Errorf("second push started %d blob uploads, want 0", n)
			}
			if n := cnt.count("PUT "); n != 0 {
				t.Errorf("second push sent %d PUTs, want 0", n)
			}
		})
	}
}

func TestPushRejectsMissingDigest(t *testing.T) {
	img, _ := random.Image(10, 1)
	dir, _ := writeLayout(t, img)
	_, host := newRegistry(t)
	_, err := newClient(t).Push(context.Background(), dir, v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("0", 64)}, []string{host + "/x"}, []string{"t"})
	if err == nil || !strings.Contains(err.Error(), "does not hold") {
		t.Fatalf("err = %v, want a missing digest error", err)
	}
}

func TestPushRetriesTooManyRequests(t *testing.T) {
	cnt, host := newRegistry(t)
	cnt.failN, cnt.failPfx, cnt.failCode = 2, "PUT /v2/app/manifests/", http.StatusTooManyRequests
	cnt.failHdr = http.Header{"Retry-After": {"7"}}
	img, _ := random.Image(100, 1)
	dir, digest := writeLayout(t, img)
	var waits []time.Duration
	var mu sync.Mutex
	c := newClient(t, WithRetry(transport.WithSleep(func(_ context.Context, d time.Duration) error {
		mu.Lock()
		defer mu.Unlock()
		waits = append(waits, d)
		return nil
	})))
	if _, err := c.Push(context.Background(), dir, digest, []string{host + "/app"}, []string{"v1"}); err != nil {
		t.Fatal(err)
	}
	if got := headDigest(t, host+"/app:v1"); got != digest {
		t.Errorf("pushed digest %s, want %s", got, digest)
	}
	if len(waits) != 2 || waits[0] != 7*time.Second || waits[1] != 7*time.Second {
		t.Errorf("waits = %v, want [7s 7s] from Retry-After", waits)
	}
	if n := cnt.count("PUT /v2/app/manifests/"); n != 3 {
		t.Errorf("manifest PUTs = %d, want 3 (two 429s, then success)", n)
	}
}

func TestPushWithConfigCredentials(t *testing.T) {
	cnt, host := newRegistry(t)
	cnt.user, cnt.pass = "ci", "s3cret"
	img, _ := random.Image(100, 1)
	dir, digest := writeLayout(t, img)
	env := map[string]string{"REG_USER": "ci", "REG_PASS": "s3cret"}
	regs := []config.Registry{{Host: host, UsernameEnv: "REG_USER", PasswordEnv: "REG_PASS"}}

	withCreds, err := New(WithRegistries(regs, func(k string) string { return env[k] }), WithRetry(transport.WithSleep(noSleep)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := withCreds.Push(context.Background(), dir, digest, []string{host + "/app"}, []string{"v1"}); err != nil {
		t.Fatalf("push with credentials: %v", err)
	}
	without, err := New(WithRegistries(regs, func(string) string { return "" }), WithRetry(transport.WithSleep(noSleep)))
	if err != nil {
		t.Fatal(err)
	}
	_, err = without.Push(context.Background(), dir, digest, []string{host + "/app"}, []string{"v2"})
	if err == nil {
		t.Fatal("push without credentials succeeded")
	}
	if strings.Contains(err.Error(), "s3cret") {
		t.Errorf("error leaks the password: %v", err)
	}
}

func TestCopy(t *testing.T) {
	ctx := context.Background()
	img, _ := random.Image(2048, 4)
	other, _ := random.Image(2048, 1)
	idx, _ := random.Index(512, 2, 2)
	srcCnt, src := newRegistry(t)
	dstCnt, dst := newRegistry(t)
	c := newClient(t)
	for ref, tg := range map[string]remote.Taggable{
		src + "/app:2.1.1-rc1": img, src + "/app:other": other, src + "/multi:1.0.0": idx,
	} {
		r, _ := name.ParseReference(ref)
		var err error
		if i, ok := tg.(v1.ImageIndex); ok {
			err = remote.WriteIndex(r, i)
		} else {
			err = remote.Write(r, tg.(v1.Image))
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	imgDigest, _ := img.Digest()
	idxDigest, _ := idx.Digest()

	t.Run("between registries keeps the digest", func(t *testing.T) {
		got, err := c.Copy(ctx, src+"/app:2.1.1-rc1", dst+"/prod/app:2.1.1-rc1", false)
		if err != nil {
			t.Fatal(err)
		}
		if got.Digest != imgDigest || !got.Changed || got.Reference != dst+"/prod/app:2.1.1-rc1@"+imgDigest.String() {
			t.Errorf("copied = %+v, want digest %s", got, imgDigest)
		}
		if d := headDigest(t, dst+"/prod/app:2.1.1-rc1"); d != imgDigest {
			t.Errorf("destination digest %s, want %s", d, imgDigest)
		}
	})
	t.Run("second copy uploads nothing", func(t *testing.T) {
		dstCnt.reset()
		got, err := c.Copy(ctx, src+"/app:2.1.1-rc1", dst+"/prod/app:2.1.1-rc1", false)
		if err != nil {
			t.Fatal(err)
		}
		if got.Changed {
			t.Error("second copy reported a change")
		}
		if n := dstCnt.uploads() + dstCnt.count("PUT "); n != 0 {
			t.Errorf("second copy sent %d upload/PUT requests, want 0", n)
		}
	})
	t.Run("index between registries", func(t *testing.T) {
		got, err := c.Copy(ctx, src+"/multi:1.0.0", dst+"/multi", false)
		if err != nil {
			t.Fatal(err)
		}
		if got.Digest != idxDigest {
			t.Errorf("digest %s, want %s", got.Digest, idxDigest)
		}
		if d := headDigest(t, dst+"/multi:1.0.0"); d != idxDigest {
			t.Errorf("destination digest %s, want %s", d, idxDigest)
		}
	})
	t.Run("re-tag within a repository writes only the manifest", func(t *testing.T) {
		srcCnt.reset()
		got, err := c.Copy(ctx, src+"/app:2.1.1-rc1", src+"/app:2.1.1", false)
		if err != nil {
			t.Fatal(err)
		}
		if got.Digest != imgDigest {
			t.Errorf("digest %s, want %s", got.Digest, imgDigest)
		}
		if n := srcCnt.count("HEAD /v2/app/blobs/") + srcCnt.uploads(); n != 0 {
			t.Errorf("re-tag touched blobs %d times, want 0", n)
		}
		if n := srcCnt.count("PUT /v2/app/manifests/2.1.1"); n != 1 {
			t.Errorf("re-tag sent %d manifest PUTs, want 1", n)
		}
	})
	t.Run("refuses to move a tag", func(t *testing.T) {
		_, err := c.Copy(ctx, src+"/app:other", src+"/app:2.1.1", false)
		var conflict *TagConflictError
		if !errors.As(err, &conflict) {
			t.Fatalf("err = %v, want *TagConflictError", err)
		}
		if conflict.Existing != imgDigest {
			t.Errorf("conflict existing = %s, want %s", conflict.Existing, imgDigest)
		}
		if d := headDigest(t, src+"/app:2.1.1"); d != imgDigest {
			t.Errorf("tag moved to %s despite refusal", d)
		}
	})
	t.Run("force moves a tag", func(t *testing.T) {
		got, err := c.Copy(ctx, src+"/app:other", src+"/app:2.1.1", true)
		if err != nil {
			t.Fatal(err)
		}
		if d := headDigest(t, src+"/app:2.1.1"); d != got.Digest || d == imgDigest {
			t.Errorf("tag points to %s after force, want %s", d, got.Digest)
		}
	})
	t.Run("by digest", func(t *testing.T) {
		got, err := c.Copy(ctx, src+"/app@"+imgDigest.String(), dst+"/pinned:v1", false)
		if err != nil {
			t.Fatal(err)
		}
		if got.Digest != imgDigest {
			t.Errorf("digest %s, want %s", got.Digest, imgDigest)
		}
	})
	t.Run("missing source", func(t *testing.T) {
		if _, err := c.Copy(ctx, src+"/nope:1", dst+"/nope:1", false); err == nil {
			t.Fatal("copy of a missing source succeeded")
		}
	})
}
