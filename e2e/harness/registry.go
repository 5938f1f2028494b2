package harness

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"golang.org/x/crypto/bcrypt"
)

// RegistryAuth selects how the registry authenticates clients.
type RegistryAuth int

const (
	// AuthAnonymous lets any client pull and push.
	AuthAnonymous RegistryAuth = iota
	// AuthBasic uses distribution's htpasswd auth with a bcrypt password file.
	AuthBasic
	// AuthToken uses distribution's token auth against an in-process token server.
	AuthToken
)

// Registry paths, for Fault.Path and request counting.
const (
	// RegistryPingPath matches the API version check.
	RegistryPingPath = `^/v2/$`
	// RegistryManifestPath matches manifest requests of any repository.
	RegistryManifestPath = `^/v2/.+/manifests/[^/]+$`
	// RegistryBlobPath matches blob requests (not uploads) of any repository.
	RegistryBlobPath = `^/v2/.+/blobs/sha256:[0-9a-f]+$`
	// RegistryBlobUploadPath matches blob upload sessions (start, chunks, completion).
	RegistryBlobUploadPath = `^/v2/.+/blobs/uploads/`
	// RegistryTagsPath matches tag listing.
	RegistryTagsPath = `^/v2/.+/tags/list$`
)

// RequestKind classifies a registry request by what it touches.
type RequestKind string

// Request kinds recorded by the registry proxy.
const (
	KindPing       RequestKind = "ping"
	KindManifest   RequestKind = "manifest"
	KindBlob       RequestKind = "blob"
	KindBlobUpload RequestKind = "blob-upload"
	KindTags       RequestKind = "tags"
	KindCatalog    RequestKind = "catalog"
	KindReferrers  RequestKind = "referrers"
	KindOther      RequestKind = "other"
)

var registryKinds = []struct {
	re   *regexp.Regexp
	kind RequestKind
}{
	{regexp.MustCompile(RegistryPingPath), KindPing},
	{regexp.MustCompile(RegistryManifestPath), KindManifest},
	{regexp.MustCompile(RegistryBlobUploadPath), KindBlobUpload},
	{regexp.MustCompile(`^/v2/.+/blobs/uploads/?$`), KindBlobUpload},
	{regexp.MustCompile(RegistryBlobPath), KindBlob},
	{regexp.MustCompile(RegistryTagsPath), KindTags},
	{regexp.MustCompile(`^/v2/_catalog$`), KindCatalog},
	{regexp.MustCompile(`^/v2/.+/referrers/[^/]+$`), KindReferrers},
}

func classifyRegistryPath(p string) RequestKind {
	for _, k := range registryKinds {
		if k.re.MatchString(p) {
			return k.kind
		}
	}
	return KindOther
}

// RegistryRequest is one request seen by the registry's front proxy.
type RegistryRequest struct {
	Method string
	Path   string
	Kind   RequestKind
	Status int
	// Faulted is true when the response was an injected fault and never reached the registry.
	Faulted bool
}

// RegistryOption configures StartRegistry.
type RegistryOption func(*registryOptions)

type registryOptions struct {
	auth     RegistryAuth
	user     string
	password string
}

// WithBasicAuth protects the registry with htpasswd (bcrypt) basic auth for one user.
func WithBasicAuth(user, password string) RegistryOption {
	return func(o *registryOptions) { o.auth, o.user, o.password = AuthBasic, user, password }
}

// WithTokenAuth protects the registry with distribution token auth; the in-process token server accepts the
// user's basic credentials and grants the scopes requested.
func WithTokenAuth(user, password string) RegistryOption {
	return func(o *registryOptions) { o.auth, o.user, o.password = AuthToken, user, password }
}

// Registry is a running docker-registry (CNCF distribution) behind a recording, fault-injecting proxy.
type Registry struct {
	// Host is "127.0.0.1:PORT" of the proxy that clients must use (plain HTTP).
	Host string
	// DirectHost is the registry's own address, bypassing recording and faults.
	DirectHost string
	// Username and Password are the credentials accepted by basic or token auth; empty when anonymous.
	Username, Password string
	// Auth is the auth mode the registry runs with.
	Auth RegistryAuth
	// StorageDir is the registry's filesystem storage root.
	StorageDir string
	// Token is the token server for AuthToken registries, nil otherwise.
	Token *TokenServer

	faults   faultSet
	mu       sync.Mutex
	requests []RegistryRequest
	epoch    int // bumped by ResetRequests, so in-flight requests of an older epoch do not update the new list
}

// StartRegistry starts Debian's docker-registry (distribution v2) with its own temporary filesystem storage on
// a free loopback port, fronted by a proxy on another loopback port, and waits until /v2/ answers. The process
// group is killed and waited for in t.Cleanup. Without the binary the test skips outside CI and fails in CI.
func StartRegistry(t testing.TB, opts ...RegistryOption) *Registry {
	t.Helper()
	bin := RequireBinary(t, "docker-registry")
	o := registryOptions{}
	for _, opt := range opts {
		opt(&o)
	}
	dir := t.TempDir()
	r := &Registry{Username: o.user, Password: o.password, Auth: o.auth, StorageDir: filepath.Join(dir, "storage")}
	if err := os.MkdirAll(r.StorageDir, 0o755); err != nil {
		t.Fatalf("creating registry storage: %v", err)
	}
	r.startProxy(t)
	authYAML := ""
	switch o.auth {
	case AuthBasic:
		hash, err := bcrypt.GenerateFromPassword([]byte(o.password), bcrypt.MinCost)
		if err != nil {
			t.Fatalf("hashing registry password: %v", err)
		}
		htpasswd := filepath.Join(dir, "htpasswd")
		if err := os.WriteFile(htpasswd, []byte(o.user+":"+string(hash)+"\n"), 0o600); err != nil {
			t.Fatalf("writing htpasswd: %v", err)
		}
		authYAML = fmt.Sprintf("auth:\n  htpasswd:\n    realm: harness-registry\n    path: %s\n", htpasswd)
	case AuthToken:
		ts := startTokenServer(t, o.user, o.password, dir)
		ts.Realm = "http://" + r.Host + tokenPath
		r.mu.Lock()
		r.Token = ts
		r.mu.Unlock()
		authYAML = fmt.Sprintf("auth:\n  token:\n    realm: %s\n    service: %s\n    issuer: %s\n    rootcertbundle: %s\n",
			r.Token.Realm, r.Token.Service, r.Token.Issuer, r.Token.CertPath)
	}

	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		addr, err := freeLoopbackAddr()
		if err != nil {
			t.Fatal(err)
		}
		cfgPath := filepath.Join(dir, fmt.Sprintf("config-%d.yml", attempt))
		cfg := fmt.Sprintf(`version: 0.1
log:
  level: info
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: %s
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: %s
  secret: %s
%s`, r.StorageDir, addr, randomHex(16), authYAML)
		if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
			t.Fatalf("writing registry config: %v", err)
		}
		logPath := filepath.Join(dir, fmt.Sprintf("registry-%d.log", attempt))
		cmd := exec.Command(bin, "serve", cfgPath)
		cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir}
		proc, err := startChild(cmd, logPath)
		if err != nil {
			t.Fatal(err)
		}
		if err := waitRegistry(proc, addr); err != nil {
			_ = proc.stop()
			lastErr = fmt.Errorf("%w; registry log:\n%s", err, tailFile(logPath, 20))
			continue
		}
		t.Cleanup(func() {
			if err := proc.stop(); err != nil {
				t.Errorf("stopping docker-registry: %v", err)
			}
		})
		r.mu.Lock()
		r.DirectHost = addr
		r.mu.Unlock()
		return r
	}
	t.Fatalf("starting docker-registry: %v", lastErr)
	return nil
}

func waitRegistry(proc *childProcess, addr string) error {
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if proc.exited() {
			return fmt.Errorf("docker-registry exited early: %v", proc.err)
		}
		resp, err := client.Get("http://" + addr + "/v2/")
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusUnauthorized {
				return nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("docker-registry on %s did not answer /v2/ within 20s", addr)
}

// tokenPath is where the proxy serves the token server of AuthToken registries.
const tokenPath = "/token"

// startProxy starts the recording, fault-injecting front proxy; it forwards to DirectHost once that is set.
func (r *Registry) startProxy(t testing.TB) {
	proxy := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			r.mu.Lock()
			target := &url.URL{Scheme: "http", Host: r.DirectHost}
			r.mu.Unlock()
			pr.SetURL(target)
			// Keep the client's Host so the registry builds upload Locations that point back at the proxy.
			pr.Out.Host = pr.In.Host
		},
		FlushInterval: -1,
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.mu.Lock()
		ts := r.Token
		r.mu.Unlock()
		if req.URL.Path == tokenPath && ts != nil {
			ts.serveToken(w, req)
			return
		}
		rec := RegistryRequest{Method: req.Method, Path: req.URL.Path, Kind: classifyRegistryPath(req.URL.Path)}
		if f := r.faults.take(req.Method, req.URL.Path); f != nil {
			writeFault(w, f, "application/json")
			rec.Status, rec.Faulted = f.Status, true
			r.record(rec)
			return
		}
		// The request is recorded on arrival and its status filled in before
		// the client sees it, so once a client call returns, every request
		// it made is counted — and a ResetRequests between two calls never
		// receives a late record of the first.
		epoch, i := r.begin(rec)
		sw := &statusRecorder{ResponseWriter: w, onStatus: func(code int) { r.finish(epoch, i, code) }}
		proxy.ServeHTTP(sw, req)
		if sw.status == 0 {
			r.finish(epoch, i, http.StatusBadGateway) // the proxy gave up without answering
		}
	}))
	t.Cleanup(srv.Close)
	r.Host = strings.TrimPrefix(srv.URL, "http://")
}

func (r *Registry) record(rec RegistryRequest) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.requests = append(r.requests, rec)
}

// begin records an arriving request and returns where, for finish.
func (r *Registry) begin(rec RegistryRequest) (epoch, index int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.requests = append(r.requests, rec)
	return r.epoch, len(r.requests) - 1
}

// finish sets the status of a request begun in the same epoch.
func (r *Registry) finish(epoch, index, status int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if epoch == r.epoch && index < len(r.requests) && r.requests[index].Status == 0 {
		r.requests[index].Status = status
	}
}

// Authenticator returns the go-containerregistry credentials for this registry (anonymous when it has none).
func (r *Registry) Authenticator() authn.Authenticator {
	if r.Username == "" {
		return authn.Anonymous
	}
	return authn.FromConfig(authn.AuthConfig{Username: r.Username, Password: r.Password})
}

// Ref returns "HOST/repo" for building image references against this registry.
func (r *Registry) Ref(repo string) string { return r.Host + "/" + repo }

// InjectFault makes matching requests to Host answer with the fault instead of reaching the registry.
func (r *Registry) InjectFault(t testing.TB, f Fault) {
	t.Helper()
	if err := r.faults.add(f); err != nil {
		t.Fatal(err)
	}
}

// PendingFaults reports how many injected faults have not been fully consumed yet.
func (r *Registry) PendingFaults() int { return r.faults.pending() }

// ClearFaults drops the injected faults no request has consumed yet.
func (r *Registry) ClearFaults() { r.faults.clear() }

// Requests returns a copy of every request seen by the proxy, in arrival order.
func (r *Registry) Requests() []RegistryRequest {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]RegistryRequest(nil), r.requests...)
}

// Count returns how many proxied requests had the method (empty: any) and kind (empty: any).
func (r *Registry) Count(method string, kind RequestKind) int {
	n := 0
	for _, req := range r.Requests() {
		if (method == "" || req.Method == method) && (kind == "" || req.Kind == kind) {
			n++
		}
	}
	return n
}

// ResetRequests forgets the recorded requests, e.g. after seeding the registry.
func (r *Registry) ResetRequests() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.requests = nil
	r.epoch++
}

// Ping checks that /v2/ answers through the proxy; it is a liveness probe for tests.
func (r *Registry) Ping(ctx context.Context) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+r.Host+"/v2/", nil)
	if err != nil {
		return 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, fmt.Errorf("pinging registry %s: %w", r.Host, err)
	}
	_ = resp.Body.Close()
	return resp.StatusCode, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Sprintf("reading random bytes: %v", err))
	}
	return hex.EncodeToString(b)
}
