package github

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
)

// A 302 from the API host to another host must not carry the token there: go-github adds it inside
// the transport, on every hop, so Go's own stripping of Authorization on redirects does not apply.
func TestTokenNotSentAcrossRedirect(t *testing.T) {
	var (
		mu   sync.Mutex
		seen []string
	)
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Header.Get("Authorization"))
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"full_name":"acme/app"}`))
	}))
	t.Cleanup(other.Close)
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer ghp_secret" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		http.Redirect(w, r, other.URL+r.URL.Path, http.StatusFound)
	}))
	t.Cleanup(api.Close)
	f, err := New(WithToken("ghp_secret"), WithAPIURL(api.URL))
	if err != nil {
		t.Fatal(err)
	}
	c, err := f.Client(context.Background(), "acme", "app")
	if err != nil {
		t.Fatal(err)
	}
	repo, _, err := c.Repositories.Get(context.Background(), "acme", "app")
	if err != nil {
		t.Fatal(err)
	}
	if repo.GetFullName() != "acme/app" {
		t.Errorf("redirect not followed: %+v", repo)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 1 || seen[0] != "" {
		t.Errorf("the redirect target received Authorization %q, want nothing", seen)
	}
}
