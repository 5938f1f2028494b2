package webhook

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// recordingTrigger is a hand-written fake of Trigger that records events and
// reports repositories under "acme/" and "vendor/" and "platform/" as watched.
type recordingTrigger struct {
	mu     sync.Mutex
	events []Event
}

func (r *recordingTrigger) Trigger(ev Event) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, ev)
	return !strings.HasPrefix(ev.Repository, "other/")
}

var secret = []byte("s3cret-webhook-key")

func payload(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestReceivers(t *testing.T) {
	at := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	bearer := http.Header{"Authorization": {"Bearer " + string(secret)}}
	tests := []struct {
		name       string
		source     string
		file       string
		body       string // used when file is empty
		header     http.Header
		sign       bool   // add X-Hub-Signature-256
		query      string // raw query
		wantStatus int
		wantResult string
		want       []Event
	}{
		{name: "distribution push of a tag", source: SourceDistribution, file: "distribution.json", header: bearer,
			wantStatus: 202, wantResult: ResultAccepted, want: []Event{{Source: SourceDistribution, Host: "192.168.100.227:5000",
				Repository: "acme/cart", Tag: "3.4.0", Digest: "sha256:fea8895f450959fa676bcc1df0611ea93823a735a01205fd8622846041d0c7cf",
				PushedAt: at("2016-03-09T14:44:27-08:00")}}},
		{name: "distribution secret as raw Authorization", source: SourceDistribution, file: "distribution.json",
			header: http.Header{"Authorization": {string(secret)}}, wantStatus: 202, wantResult: ResultAccepted},
		{name: "distribution wrong secret", source: SourceDistribution, file: "distribution.json",
			header: http.Header{"Authorization": {"Bearer nope"}}, wantStatus: 401, wantResult: ResultUnauthorized},
		{name: "distribution without secret", source: SourceDistribution, file: "distribution.json",
			wantStatus: 401, wantResult: ResultUnauthorized},
		{name: "distribution only pulls", source: SourceDistribution, header: bearer,
			body:       `{"events":[{"action":"pull","target":{"mediaType":"application/vnd.oci.image.manifest.v1+json","repository":"acme/cart","tag":"1"}}]}`,
			wantStatus: 200, wantResult: ResultIgnored},
		{name: "distribution garbage", source: SourceDistribution, header: bearer, body: `{"events": 7}`,
			wantStatus: 400, wantResult: ResultBadRequest},
		{name: "docker hub with token query", source: SourceDockerHub, file: "dockerhub.json", query: "token=" + string(secret),
			wantStatus: 202, wantResult: ResultAccepted, want: []Event{{Source: SourceDockerHub, Host: "docker.io",
				Repository: "vendor/payments", Tag: "3.4.0", PushedAt: time.Unix(1417566161, 0)}}},
		{name: "docker hub official image name", source: SourceDockerHub, query: "token=" + string(secret),
			body:       `{"push_data":{"pushed_at":1417566161,"tag":"1.27"},"repository":{"repo_name":"nginx"}}`,
			wantStatus: 202, wantResult: ResultAccepted, want: []Event{{Source: SourceDockerHub, Host: "docker.io",
				Repository: "library/nginx", Tag: "1.27", PushedAt: time.Unix(1417566161, 0)}}},
		{name: "docker hub wrong token", source: SourceDockerHub, file: "dockerhub.json", query: "token=wrong",
			wantStatus: 401, wantResult: ResultUnauthorized},
		{name: "harbor push", source: SourceHarbor, file: "harbor.json", header: http.Header{"Authorization": {string(secret)}},
			wantStatus: 202, wantResult: ResultAccepted, want: []Event{{Source: SourceHarbor, Host: "harbor.example.com:8443",
				Repository: "platform/payments", Tag: "3.4.0", Digest: "sha256:954b378c375d852eb3c63ab88978f640b4348b01c1b3456a024a81536dafbbf4",
				PushedAt: time.Unix(1680501893, 0)}}},
		{name: "harbor delete ignored", source: SourceHarbor, file: "harbor-delete.json", header: bearer,
			wantStatus: 200, wantResult: ResultIgnored},
		{name: "github package event", source: SourceGitHub, file: "github-package.json", sign: true,
			header:     http.Header{"X-Github-Event": {"package"}},
			wantStatus: 202, wantResult: ResultAccepted, want: []Event{{Source: SourceGitHub, Host: "ghcr.io", Repository: "acme/cart",
				Tag: "3.4.0", Digest: "sha256:1f2a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708",
				PushedAt: at("2024-05-01T10:00:05Z")}}},
		{name: "github registry_package event", source: SourceGitHub, file: "github-registry-package.json", sign: true,
			header:     http.Header{"X-Github-Event": {"registry_package"}},
			wantStatus: 202, wantResult: ResultAccepted, want: []Event{{Source: SourceGitHub, Host: "ghcr.io", Repository: "acme/cart",
				Tag: "3.5.0", Digest: "sha256:2f2a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708",
				PushedAt: at("2024-05-02T10:00:00Z")}}},
		{name: "github npm package ignored", source: SourceGitHub, file: "github-npm.json", sign: true,
			header: http.Header{"X-Github-Event": {"package"}}, wantStatus: 200, wantResult: ResultIgnored},
		{name: "github ping ignored", source: SourceGitHub, body: `{"zen":"Keep it logically awesome."}`, sign: true,
			header: http.Header{"X-Github-Event": {"ping"}}, wantStatus: 200, wantResult: ResultIgnored},
		{name: "github bad signature", source: SourceGitHub, file: "github-package.json",
			header:     http.Header{"X-Github-Event": {"package"}, "X-Hub-Signature-256": {"sha256=" + strings.Repeat("ab", 32)}},
			wantStatus: 401, wantResult: ResultUnauthorized},
		{name: "github refuses bearer secret", source: SourceGitHub, file: "github-package.json",
			header:     http.Header{"X-Github-Event": {"package"}, "Authorization": {"Bearer " + string(secret)}},
			wantStatus: 401, wantResult: ResultUnauthorized},
		{name: "github malformed signature", source: SourceGitHub, file: "github-package.json",
			header:     http.Header{"X-Github-Event": {"package"}, "X-Hub-Signature-256": {"sha1=deadbeef"}},
			wantStatus: 401, wantResult: ResultUnauthorized},
		{name: "generic with signature", source: SourceGeneric, file: "generic.json", sign: true,
			wantStatus: 202, wantResult: ResultAccepted, want: []Event{{Source: SourceGeneric, Host: "registry.example.com:5000",
				Repository: "acme/cart", Tag: "3.4.0", Digest: "sha256:fea8895f450959fa676bcc1df0611ea93823a735a01205fd8622846041d0c7cf",
				PushedAt: at("2024-05-01T10:00:00Z")}}},
		{name: "generic with secret header", source: SourceGeneric, file: "generic.json",
			header: http.Header{"X-Automator-Secret": {string(secret)}}, wantStatus: 202, wantResult: ResultAccepted},
		{name: "generic query token not accepted", source: SourceGeneric, file: "generic.json", query: "token=" + string(secret),
			wantStatus: 401, wantResult: ResultUnauthorized},
		{name: "generic unwatched repository", source: SourceGeneric, body: `{"repository":"other/thing","tag":"1"}`, sign: true,
			wantStatus: 200, wantResult: ResultUnwatched},
		{name: "generic without repository", source: SourceGeneric, body: `{"tag":"1"}`, sign: true,
			wantStatus: 400, wantResult: ResultBadRequest},
		{name: "oversize body", source: SourceGeneric, body: `{"repository":"acme/cart","pad":"` + strings.Repeat("x", 2<<20) + `"}`,
			sign: true, wantStatus: 413, wantResult: ResultTooLarge},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			trig := &recordingTrigger{}
			var results []string
			h, err := NewHandler(secret, trig, WithObserver(func(src, res string) {
				if src != tc.source {
					t.Errorf("observed source %q, want %q", src, tc.source)
				}
				results = append(results, res)
			}))
			if err != nil {
				t.Fatal(err)
			}
			body := []byte(tc.body)
			if tc.file != "" {
				body = payload(t, tc.file)
			}
			target := PathPrefix + tc.source
			if tc.query != "" {
				target += "?" + tc.query
			}
			req := httptest.NewRequest(http.MethodPost, target, bytes.NewReader(body))
			for k, v := range tc.header {
				req.Header[http.CanonicalHeaderKey(k)] = v
			}
			if tc.sign {
				req.Header.Set("X-Hub-Signature-256", Sign(secret, body))
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tc.wantStatus {
				t.Errorf("status %d, want %d (body %q)", rec.Code, tc.wantStatus, rec.Body.String())
			}
			if len(results) != 1 || results[0] != tc.wantResult {
				t.Errorf("observed results %q, want [%q]", results, tc.wantResult)
			}
			if tc.wantStatus == 401 || tc.wantStatus == 413 || tc.wantStatus == 400 {
				if len(trig.events) != 0 {
					t.Errorf("rejected delivery triggered %d checks", len(trig.events))
				}
			}
			if tc.want != nil {
				if len(trig.events) != len(tc.want) {
					t.Fatalf("triggered %+v, want %+v", trig.events, tc.want)
				}
				for i, want := range tc.want {
					got := trig.events[i]
					if !got.PushedAt.Equal(want.PushedAt) {
						t.Errorf("event %d PushedAt %s, want %s", i, got.PushedAt, want.PushedAt)
					}
					got.PushedAt, want.PushedAt = time.Time{}, time.Time{}
					if got != want {
						t.Errorf("event %d = %+v, want %+v", i, got, want)
					}
				}
			}
		})
	}
}

func TestVerifySignature(t *testing.T) {
	body := []byte(`{"action":"published"}`)
	good := Sign(secret, body)
	tests := []struct {
		name string
		key  []byte
		body []byte
		sig  string
		want bool
	}{
		{"valid", secret, body, good, true},
		// GitHub's documented example: secret "It's a Secret to Everybody", payload "Hello, World!".
		{"github documented vector", []byte("It's a Secret to Everybody"), []byte("Hello, World!"),
			"sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17", true},
		{"wrong key", []byte("other"), body, good, false},
		{"tampered body", secret, []byte(`{"action":"deleted"}`), good, false},
		{"missing prefix", secret, body, strings.TrimPrefix(good, "sha256="), false},
		{"not hex", secret, body, "sha256=zz", false},
		{"truncated", secret, body, good[:len(good)-2], false},
		{"empty", secret, body, "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := VerifySignature(tc.key, tc.body, tc.sig); got != tc.want {
				t.Errorf("VerifySignature = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestNewHandlerNeedsSecret(t *testing.T) {
	if _, err := NewHandler(nil, &recordingTrigger{}); err != ErrNoSecret {
		t.Errorf("NewHandler without secret: err %v, want ErrNoSecret", err)
	}
}

func TestMethodNotAllowed(t *testing.T) {
	h, err := NewHandler(secret, &recordingTrigger{})
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, PathPrefix+SourceGeneric, nil))
	if rec.Code != http.StatusMethodNotAllowed {
		t.Errorf("GET status %d, want 405", rec.Code)
	}
}
