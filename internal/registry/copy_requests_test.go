package registry

import (
	"bytes"
	"context"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// repoBlobs stores blobs per repository, as real registries do. go-containerregistry's in-memory
// registry shares blobs across repositories, where a blob existence check would pass for a blob
// that was never mounted.
type repoBlobs struct {
	mu sync.Mutex
	m  map[string][]byte // key(repo, digest)
}

// key names a blob of a repository. go-containerregistry's registry names the repository by the
// request path before "/blobs/…": "v2/app" when reading, "v2/app/blobs" when uploading.
func key(repo string, h v1.Hash) string {
	return strings.TrimSuffix(strings.TrimPrefix(repo, "v2/"), "/blobs") + "@" + h.String()
}

func (b *repoBlobs) Get(_ context.Context, repo string, h v1.Hash) (io.ReadCloser, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	blob, ok := b.m[key(repo, h)]
	if !ok {
		return nil, ggcrregistry.ErrNotFound
	}
	return io.NopCloser(bytes.NewReader(blob)), nil
}

func (b *repoBlobs) Stat(_ context.Context, repo string, h v1.Hash) (int64, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	blob, ok := b.m[key(repo, h)]
	if !ok {
		return 0, ggcrregistry.ErrNotFound
	}
	return int64(len(blob)), nil
}

func (b *repoBlobs) Put(_ context.Context, repo string, h v1.Hash, rc io.ReadCloser) error {
	defer rc.Close()
	blob, err := io.ReadAll(rc)
	if err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.m[key(repo, h)] = blob
	return nil
}

// mounting answers cross-repository mount requests (POST …/blobs/uploads/?mount=D&from=R) with 201
// when R holds D, in front of go-containerregistry's registry, which starts an upload for every POST.
type mounting struct {
	next    http.Handler
	blobs   *repoBlobs
	mounted atomic.Int64
}

func (m *mounting) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	repo, ok := strings.CutSuffix(strings.TrimPrefix(r.URL.Path, "/v2/"), "/blobs/uploads/")
	mount, from := r.URL.Query().Get("mount"), r.URL.Query().Get("from")
	if r.Method != http.MethodPost || !ok || mount == "" || from == "" {
		m.next.ServeHTTP(w, r)
		return
	}
	m.blobs.mu.Lock()
	blob, held := m.blobs.m[from+"@"+mount]
	if held {
		m.blobs.m[repo+"@"+mount] = blob
	}
	m.blobs.mu.Unlock()
	if !held {
		m.next.ServeHTTP(w, r)
		return
	}
	m.mounted.Add(1)
	w.Header().Set("Location", "/v2/"+repo+"/blobs/"+mount)
	w.Header().Set("Docker-Content-Digest", mount)
	w.WriteHeader(http.StatusCreated)
}

// newMountingRegistry starts a registry that keeps blobs per repository and supports mounts; the
// counter records every request.
func newMountingRegistry(t *testing.T) (*counter, *mounting, string) {
	t.Helper()
	blobs := &repoBlobs{m: map[string][]byte{}}
	m := &mounting{blobs: blobs, next: ggcrregistry.New(ggcrregistry.Logger(log.New(io.Discard, "", 0)), ggcrregistry.WithBlobHandler(blobs))}
	c := &counter{next: m}
	srv := httptest.NewServer(c)
	t.Cleanup(srv.Close)
	return c, m, strings.TrimPrefix(srv.URL, "http://")
}

// exact counts recorded requests equal to req ("GET /v2/").
func (c *counter) exact(req string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, r := range c.reqs {
		if r == req {
			n++
		}
	}
	return n
}

// requests is what one copy sent to one registry.
type requests struct {
	pings, manifestHeads, manifestGets, blobHeads, patches, mounts int
}

func (c *counter) requests(m *mounting, repo string) requests {
	return requests{
		pings:         c.exact("GET /v2/"),
		manifestHeads: c.count("HEAD /v2/" + repo + "/manifests/"),
		manifestGets:  c.count("GET /v2/" + repo + "/manifests/"),
		blobHeads:     c.count("HEAD /v2/" + repo + "/blobs/"),
		patches:       c.count("PATCH /v2/" + repo + "/blobs/uploads/"),
		mounts:        int(m.mounted.Load()),
	}
}

// TestCopyRequests pins what one copy sends to each registry: at most one ping per registry per
// process, two manifest checks of the destination (its tag, read while the source manifest is, and,
// when the tag is new, the digest: a repository that holds the manifest needs no blob checks), blob
// checks only for blobs the process does not know about, and a mount instead of an upload wherever a repository of the destination's registry is
// known to hold the blob.
func TestCopyRequests(t *testing.T) {
	ctx := context.Background()
	img, err := random.Image(1024, 3) // 3 layers and a config: 4 blobs
	if err != nil {
		t.Fatal(err)
	}
	const blobs = 4
	idx, err := random.Index(512, 2, 2) // 2 images of 2 layers and a config: 6 blobs
	if err != nil {
		t.Fatal(err)
	}
	const indexBlobs = 6
	sameClient := func(c *Client) *Client { return c }
	otherClient := func(*Client) *Client { return newClient(t) }
	// References are written with {src} and {dst} for the two registries' hosts.
	for _, tc := range []struct {
		name string
		// before runs the prior copy with the copying client (sameClient) or another process's.
		before    func(*Client) *Client
		prior     [2]string // source and destination of a copy done before; empty for none
		src, dst  string
		mountFrom string // a MountFrom hint, if any
		dstRepo   string
		srcRepo   string // "app" if empty
		wantSrc   requests
		wantDst   requests
	}{
		{
			name: "cold", before: sameClient, src: "{src}/app:1", dst: "{dst}/app:1", dstRepo: "app",
			wantSrc: requests{pings: 1, manifestGets: 1},
			wantDst: requests{pings: 1, manifestHeads: 2, blobHeads: blobs, patches: blobs},
		},
		{
			name: "new tag, blobs copied before by this process", before: sameClient,
			prior: [2]string{"{src}/app:1", "{dst}/app:1"}, src: "{src}/app:2", dst: "{dst}/app:2", dstRepo: "app",
			wantSrc: requests{manifestGets: 1},
			wantDst: requests{manifestHeads: 2},
		},
		{
			name: "new tag, blobs copied before by another process", before: otherClient,
			prior: [2]string{"{src}/app:1", "{dst}/app:1"}, src: "{src}/app:2", dst: "{dst}/app:2", dstRepo: "app",
			wantSrc: requests{pings: 1, manifestGets: 1},
			// The destination repository holds the manifest (under tag 1): no blob is checked.
			wantDst: requests{pings: 1, manifestHeads: 2},
		},
		{
			name: "new repository, blobs this process copied to another one", before: sameClient,
			prior: [2]string{"{src}/app:1", "{dst}/staging/app:1"}, src: "{src}/app:1", dst: "{dst}/prod/app:1", dstRepo: "prod/app",
			wantSrc: requests{manifestGets: 1},
			wantDst: requests{manifestHeads: 2, blobHeads: blobs, mounts: blobs},
		},
		{
			name: "new repository, hinted repository holds the blobs", before: otherClient, mountFrom: "{dst}/staging/app",
			prior: [2]string{"{src}/app:1", "{dst}/staging/app:1"}, src: "{src}/app:1", dst: "{dst}/prod/app:1", dstRepo: "prod/app",
			wantSrc: requests{pings: 1, manifestGets: 1},
			wantDst: requests{pings: 1, manifestHeads: 2, blobHeads: blobs, mounts: blobs},
		},
		{
			name: "new repository, nothing known: uploads", before: otherClient,
			prior: [2]string{"{src}/app:1", "{dst}/staging/app:1"}, src: "{src}/app:1", dst: "{dst}/prod/app:1", dstRepo: "prod/app",
			wantSrc: requests{pings: 1, manifestGets: 1},
			wantDst: requests{pings: 1, manifestHeads: 2, blobHeads: blobs, patches: blobs},
		},
		{
			// The index and its two images are read; each image is checked by digest before its blobs.
			name: "new repository, index whose blobs this process copied to another one", before: sameClient,
			prior: [2]string{"{src}/multi:1", "{dst}/staging/multi:1"}, src: "{src}/multi:1", dst: "{dst}/prod/multi:1",
			dstRepo: "prod/multi", srcRepo: "multi",
			wantSrc: requests{manifestGets: 3},
			wantDst: requests{manifestHeads: 4, blobHeads: indexBlobs, mounts: indexBlobs},
		},
		{
			name: "new repository, source in the same registry", before: otherClient,
			prior: [2]string{"{src}/app:1", "{dst}/staging/app:1"}, src: "{dst}/staging/app:1", dst: "{dst}/prod/app:1", dstRepo: "prod/app",
			wantDst: requests{pings: 1, manifestHeads: 2, blobHeads: blobs, mounts: blobs},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srcCnt, srcMounts, src := newMountingRegistry(t)
			dstCnt, dstMounts, dst := newMountingRegistry(t)
			for _, tag := range []string{"1", "2"} {
				ref, _ := name.ParseReference(src + "/app:" + tag)
				if err := remote.Write(ref, img); err != nil {
					t.Fatal(err)
				}
			}
			ref, _ := name.ParseReference(src + "/multi:1")
			if err := remote.WriteIndex(ref, idx); err != nil {
				t.Fatal(err)
			}
			c := newClient(t)
			refs := strings.NewReplacer("{src}", src, "{dst}", dst)
			if tc.prior[0] != "" {
				if _, err := tc.before(c).Copy(ctx, refs.Replace(tc.prior[0]), refs.Replace(tc.prior[1]), false); err != nil {
					t.Fatalf("copy before: %v", err)
				}
			}
			srcCnt.reset()
			dstCnt.reset()
			srcMounts.mounted.Store(0)
			dstMounts.mounted.Store(0)
			var opts []CopyOption
			if tc.mountFrom != "" {
				opts = append(opts, MountFrom(refs.Replace(tc.mountFrom)))
			}
			got, err := c.Copy(ctx, refs.Replace(tc.src), refs.Replace(tc.dst), false, opts...)
			if err != nil {
				t.Fatal(err)
			}
			if !got.Changed {
				t.Error("copy reported no change")
			}
			srcRepo := tc.srcRepo
			if srcRepo == "" {
				srcRepo = "app"
			}
			if s := srcCnt.requests(srcMounts, srcRepo); strings.HasPrefix(tc.src, "{src}") && s != tc.wantSrc {
				t.Errorf("source registry got %+v, want %+v", s, tc.wantSrc)
			}
			if d := dstCnt.requests(dstMounts, tc.dstRepo); d != tc.wantDst {
				t.Errorf("destination registry got %+v, want %+v\n%s", d, tc.wantDst, strings.Join(dstCnt.reqs, "\n"))
			}
		})
	}
}
