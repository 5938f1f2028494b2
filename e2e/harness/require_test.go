package harness_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"testing"

	"github.com/deployment-automator/automator/e2e/harness"
)

// recordingTB captures Fatalf and Skipf instead of stopping the test.
type recordingTB struct {
	testing.TB
	fatal, skipped bool
}

func (r *recordingTB) Helper()                   {}
func (r *recordingTB) Fatalf(string, ...any)     { r.fatal = true }
func (r *recordingTB) Skipf(string, ...any)      { r.skipped = true }
func (r *recordingTB) Fatal(...any)              { r.fatal = true }
func (r *recordingTB) Errorf(f string, a ...any) { r.fatal = true }

func TestRequireBinarySkipsOnlyOutsideCI(t *testing.T) {
	tests := []struct {
		ci                 string
		wantFatal, wantSkp bool
	}{
		{"", false, true},
		{"true", true, false},
	}
	for _, tc := range tests {
		t.Run("CI="+tc.ci, func(t *testing.T) {
			t.Setenv("CI", tc.ci)
			rec := &recordingTB{TB: t}
			if path := harness.RequireBinary(rec, "automator-no-such-binary"); path != "" {
				t.Fatalf("path = %q", path)
			}
			if rec.fatal != tc.wantFatal || rec.skipped != tc.wantSkp {
				t.Fatalf("fatal=%v skipped=%v, want %v %v", rec.fatal, rec.skipped, tc.wantFatal, tc.wantSkp)
			}
		})
	}
	if harness.RequireBinary(t, "git") == "" {
		t.Fatal("git not resolved")
	}
}

// The registry itself verifies token signatures: a forged bearer token is refused, a token from the token
// server for the right scope is accepted.
func TestTokenRegistryVerifiesTokens(t *testing.T) {
	reg := harness.StartRegistry(t, harness.WithTokenAuth("ci-user", "pw"))
	get := func(auth string) int {
		req, err := http.NewRequest(http.MethodGet, "http://"+reg.Host+"/v2/", nil)
		if err != nil {
			t.Fatal(err)
		}
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		return resp.StatusCode
	}
	forged := "Bearer eyJhbGciOiJFUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJ4In0.c2ln"
	if s := get(forged); s != http.StatusUnauthorized {
		t.Fatalf("forged token: %d", s)
	}
	req, err := http.NewRequest(http.MethodGet, fmt.Sprintf("%s?service=%s&scope=repository:team/app:pull", reg.Token.Realm, reg.Token.Service), nil)
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth("ci-user", "pw")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var tok harness.TokenResponse
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("token request: %d %v", resp.StatusCode, err)
	}
	if s := get("Bearer " + tok.Token); s != http.StatusOK {
		t.Fatalf("issued token: %d", s)
	}
	req.SetBasicAuth("ci-user", "wrong")
	resp2, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp2.Body.Close()
	if resp2.StatusCode != http.StatusUnauthorized || reg.Token.Rejected() != 1 {
		t.Fatalf("wrong password: %d, rejected %d", resp2.StatusCode, reg.Token.Rejected())
	}
}
