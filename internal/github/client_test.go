package github

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	jwt "github.com/golang-jwt/jwt/v4"
	"go.uber.org/zap"
)

func nopLogger() *zap.Logger { return zap.NewNop() }

func newKey(t *testing.T) (*rsa.PrivateKey, []byte) {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return k, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)})
}

// appServer is a tiny GitHub Enterprise API that verifies App JWTs, mints
// installation tokens and answers one repository call.
type appServer struct {
	pub      *rsa.PublicKey
	appID    int64
	mu       sync.Mutex
	minted   int
	paths    []string
	ttl      time.Duration
	userAgts []string
}

func (s *appServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.paths = append(s.paths, r.Method+" "+r.URL.Path)
	s.userAgts = append(s.userAgts, r.UserAgent())
	s.mu.Unlock()
	path := strings.TrimPrefix(r.URL.Path, "/api/v3")
	auth := r.Header.Get("Authorization")
	if strings.HasPrefix(path, "/app/") || strings.HasSuffix(path, "/installation") {
		tok, err := jwt.ParseWithClaims(strings.TrimPrefix(auth, "Bearer "), &jwt.RegisteredClaims{}, func(*jwt.Token) (any, error) { return s.pub, nil })
		if err != nil || !tok.Valid || tok.Claims.(*jwt.RegisteredClaims).Issuer != fmt.Sprint(s.appID) {
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"message":"A JSON web token could not be decoded"}`))
			return
		}
	}
	switch {
	case path == "/repos/acme/manifests/installation":
		_ = json.NewEncoder(w).Encode(map[string]any{"id": 42})
	case path == "/app/installations/42/access_tokens":
		s.mu.Lock()
		s.minted++
		n := s.minted
		s.mu.Unlock()
		w.WriteHeader(http.StatusCreated)
		_ = json.NewEncoder(w).Encode(map[string]any{"token": fmt.Sprintf("ghs_token%d", n), "expires_at": time.Now().Add(s.ttl).Format(time.RFC3339)})
	case path == "/repos/acme/manifests":
		if !strings.HasPrefix(auth, "token ghs_token") {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"full_name": "acme/manifests"})
	default:
		w.WriteHeader(http.StatusNotFound)
	}
}

func TestAppAuth(t *testing.T) {
	key, pemKey := newKey(t)
	_, otherPEM := newKey(t)
	tests := []struct {
		name       string
		keyPEM     []byte
		clock      func() time.Time
		ttl        time.Duration
		calls      int
		wantMinted int
		wantErr    string
	}{
		{name: "token cached across calls", keyPEM: pemKey, ttl: time.Hour, calls: 3, wantMinted: 1},
		{name: "token refreshed before expiry", keyPEM: pemKey, ttl: 30 * time.Second, calls: 3, wantMinted: 3},
		{name: "wrong key", keyPEM: otherPEM, ttl: time.Hour, calls: 1, wantErr: "rejected the App JWT"},
		{name: "expired JWT", keyPEM: pemKey, clock: func() time.Time { return time.Now().Add(-time.Hour) }, ttl: time.Hour, calls: 1, wantErr: "rejected the App JWT"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := &appServer{pub: &key.PublicKey, appID: 7, ttl: tt.ttl}
			ts := httptest.NewServer(srv)
			defer ts.Close()
			var seen []string
			opts := []Option{WithApp(7, tt.keyPEM, 0), WithAPIURL(ts.URL), WithUserAgent("automator-test"),
				WithTokenObserver(func(s string) { seen = append(seen, s) })}
			if tt.clock != nil {
				opts = append(opts, WithClock(tt.clock))
			}
			f, err := New(opts...)
			if err != nil {
				t.Fatal(err)
			}
			if !f.IsApp() {
				t.Fatal("IsApp = false")
			}
			ctx := context.Background()
			for i := 0; i < tt.calls; i++ {
				c, err := f.Client(ctx, "acme", "manifests")
				if err == nil {
					_, _, err = c.Repositories.Get(ctx, "acme", "manifests")
				}
				if tt.wantErr != "" {
					var ae *AppAuthError
					if err == nil || !errors.As(err, &ae) || !strings.Contains(err.Error(), tt.wantErr) {
						t.Fatalf("err = %v, want AppAuthError containing %q", err, tt.wantErr)
					}
					if strings.Contains(err.Error(), "PRIVATE") {
						t.Fatal("error leaks key material")
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
			}
			if srv.minted != tt.wantMinted {
				t.Errorf("minted %d tokens, want %d", srv.minted, tt.wantMinted)
			}
			if len(seen) != tt.wantMinted {
				t.Errorf("observer saw %d tokens, want %d (one per new token)", len(seen), tt.wantMinted)
			}
			for _, p := range srv.paths {
				if !strings.HasPrefix(strings.SplitN(p, " ", 2)[1], "/api/v3/") {
					t.Errorf("request %q did not use the enterprise /api/v3 prefix", p)
				}
			}
			for _, ua := range srv.userAgts {
				if ua != "automator-test" {
					t.Errorf("user agent %q", ua)
				}
			}
		})
	}
}

func TestNewValidates(t *testing.T) {
	_, pemKey := newKey(t)
	tests := []struct {
		name string
		opts []Option
		want string
	}{
		{"nothing", nil, "no GitHub credentials"},
		{"both", []Option{WithToken("ghp_x"), WithApp(1, pemKey, 0)}, "choose one"},
		{"bad key", []Option{WithApp(1, []byte("not a key"), 0)}, "parsing the private key of GitHub App 1"},
		{"bad url", []Option{WithToken("ghp_x"), WithAPIURL("::")}, "invalid GitHub API URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.opts...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestTokenClientUsesAPIURL(t *testing.T) {
	var got string
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.URL.Path + " " + r.Header.Get("Authorization")
		_, _ = w.Write([]byte(`{}`))
	}))
	defer ts.Close()
	var observed []string
	f, err := New(WithToken("ghp_secret"), WithAPIURL(ts.URL+"/api/v3"), WithTokenObserver(func(s string) { observed = append(observed, s) }))
	if err != nil {
		t.Fatal(err)
	}
	c, _ := f.Client(context.Background(), "o", "r")
	if _, _, err := c.Repositories.Get(context.Background(), "o", "r"); err != nil {
		t.Fatal(err)
	}
	if got != "/api/v3/repos/o/r Bearer ghp_secret" {
		t.Errorf("request = %q", got)
	}
	if len(observed) != 1 || observed[0] != "ghp_secret" {
		t.Errorf("observed = %v", observed)
	}
}
