package main

import (
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/deployment-automator/automator/internal/scan/scantest"
)

var scannerBuild struct {
	once sync.Once
	path string
	err  error
}

// scannerEnv points automator at an automator-scan executable:
// $AUTOMATOR_SCANNER (make test sets it to bin/automator-scan), or one
// built once for this test process.
func scannerEnv(t *testing.T) map[string]string {
	t.Helper()
	if p := os.Getenv("AUTOMATOR_SCANNER"); p != "" {
		return map[string]string{"AUTOMATOR_SCANNER": p}
	}
	scannerBuild.once.Do(func() {
		dir, err := os.MkdirTemp("", "automator-scan-bin-")
		if err != nil {
			scannerBuild.err = err
			return
		}
		scannerBuild.path = filepath.Join(dir, "automator-scan")
		cmd := exec.Command("go", "build", "-o", scannerBuild.path, "../automator-scan")
		cmd.Env = append(os.Environ(), "GOTOOLCHAIN=local", "GOEXPERIMENT=jsonv2")
		if out, err := cmd.CombinedOutput(); err != nil {
			scannerBuild.err = fmt.Errorf("building automator-scan: %v\n%s", err, out)
		}
	})
	if scannerBuild.err != nil {
		t.Fatal(scannerBuild.err)
	}
	return map[string]string{"AUTOMATOR_SCANNER": scannerBuild.path}
}

// TestScanCommand drives `automator scan` end to end on OCI layouts with a
// fixture DB: exit codes, per-environment verdicts, ignore expiry, reports.
func TestScanCommand(t *testing.T) {
	now := time.Now()
	cacheDir := scantest.NewDB(t, scantest.FreshDB(now))
	vulnerable, _ := scantest.Layout(t, scantest.Vulnerable, "cart:vulnerable")
	fixed, _ := scantest.Layout(t, scantest.Fixed, "cart:fixed")

	repo := t.TempDir()
	writeFile(t, filepath.Join(repo, "accepted.trivyignore.yaml"), fmt.Sprintf(
		"vulnerabilities:\n  - id: %s\n    statement: patched in the next base image\n    expired_at: %s\n",
		scantest.OpenSSLCritical, now.AddDate(0, 1, 0).Format(time.DateOnly)))
	writeFile(t, filepath.Join(repo, "lapsed.trivyignore"), fmt.Sprintf("%s exp:%s\n", scantest.OpenSSLCritical, now.AddDate(0, 0, -2).Format(time.DateOnly)))
	cfgPath := filepath.Join(repo, "automator.yaml")
	writeFile(t, cfgPath, fmt.Sprintf(`version: 1
scan:
  cacheDir: %s
  offline: true
  policy:
    failOn: [CRITICAL]
environments:
  - name: dev
    repo: acme/manifests
    files: [dev.yaml]
    gate: {failOn: [CRITICAL], mode: warn}
  - name: prod
    repo: acme/manifests
    files: [prod.yaml]
    gate: {failOn: [CRITICAL, HIGH], mode: block}
`, cacheDir))
	writeFile(t, filepath.Join(repo, "dev.yaml"), "image: x\n")
	writeFile(t, filepath.Join(repo, "prod.yaml"), "image: x\n")

	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantOut  []string
		wantErr  []string
	}{
		{"vulnerable blocked for prod", []string{"--oci-layout", vulnerable, "--env", "prod"}, 3,
			[]string{"BLOCK", scantest.OpenSSLCritical, "3.1.0-r0 → 3.1.4-r0", scantest.TextHigh, "ago)"}, []string{"blocked", "prod"}},
		{"vulnerable warns for dev", []string{"--oci-layout", vulnerable, "--env", "dev"}, 0,
			[]string{"WARN", scantest.OpenSSLCritical}, []string{"warn mode"}},
		{"blocked for one of two environments", []string{"--oci-layout", vulnerable, "--env", "dev,prod"}, 3,
			[]string{"WARN", "BLOCK"}, []string{"prod"}},
		{"fixed passes everywhere", []string{"--oci-layout", fixed, "--env", "dev,prod"}, 0,
			[]string{"PASS"}, []string{"vulnerability gate passed"}},
		{"accepted risk suppresses the critical", []string{"--oci-layout", vulnerable, "--fail-on", "CRITICAL", "--ignore-file", filepath.Join(repo, "accepted.trivyignore.yaml")}, 0,
			[]string{"Ignored (accepted risks)", "patched in the next base image"}, nil},
		{"lapsed acceptance no longer applies", []string{"--oci-layout", vulnerable, "--fail-on", "CRITICAL", "--ignore-file", filepath.Join(repo, "lapsed.trivyignore")}, 3,
			[]string{"Expired ignore entries", scantest.OpenSSLCritical}, nil},
		{"ad-hoc policy with ignore-unfixed", []string{"--oci-layout", fixed, "--fail-on", "CRITICAL,HIGH", "--ignore-unfixed"}, 0, []string{"PASS"}, nil},
		{"env and fail-on are exclusive", []string{"--oci-layout", fixed, "--env", "prod", "--fail-on", "HIGH"}, 2, nil, []string{"exclusive"}},
		{"unknown environment", []string{"--oci-layout", fixed, "--env", "qa"}, 2, nil, []string{`"qa"`}},
		{"missing DB is an error, not a pass", []string{"--oci-layout", vulnerable, "--env", "dev", "--cache-dir", t.TempDir()}, 1, nil, []string{"no usable DB", "scan.cacheDir"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stdout, stderr, code := runCLI(t, scannerEnv(t), append([]string{"scan", "--config", cfgPath}, tt.args...)...)
			if code != tt.wantCode {
				t.Errorf("exit code %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tt.wantCode, stdout, stderr)
			}
			for _, w := range tt.wantOut {
				if !strings.Contains(stdout, w) {
					t.Errorf("stdout lacks %q:\n%s", w, stdout)
				}
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr lacks %q:\n%s", w, stderr)
				}
			}
		})
	}

	t.Run("remote image by digest", func(t *testing.T) {
		srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
		defer srv.Close()
		img := scantest.Image(t, scantest.Vulnerable)
		d, err := img.Digest()
		if err != nil {
			t.Fatal(err)
		}
		host := strings.TrimPrefix(srv.URL, "http://")
		tag, err := name.NewTag(host + "/acme/cart:1.4.0")
		if err != nil {
			t.Fatal(err)
		}
		if err := remote.Write(tag, img); err != nil {
			t.Fatal(err)
		}
		stdout, stderr, code := runCLI(t, scannerEnv(t), "scan", "--config", cfgPath, host+"/acme/cart@"+d.String(), "--env", "prod")
		if code != 3 || !strings.Contains(stdout, d.String()) || !strings.Contains(stdout, scantest.OpenSSLCritical) {
			t.Errorf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
		}
	})

	t.Run("json, sarif and markdown files", func(t *testing.T) {
		dir := t.TempDir()
		sarif, md := filepath.Join(dir, "out.sarif"), filepath.Join(dir, "summary.md")
		stdout, stderr, code := runCLI(t, scannerEnv(t), "scan", "--config", cfgPath, "--oci-layout", vulnerable, "--env", "dev,prod",
			"--format", "json", "--sarif", sarif, "--markdown", md)
		if code != 3 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		var rep struct {
			Image    struct{ Digest string }
			Blocked  []string
			Allowed  []string
			Findings []struct{ ID string }
		}
		if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
			t.Fatalf("stdout is not JSON: %v\n%s", err, stdout)
		}
		if strings.Join(rep.Blocked, ",") != "prod" || strings.Join(rep.Allowed, ",") != "dev" || len(rep.Findings) != 4 || !strings.HasPrefix(rep.Image.Digest, "sha256:") {
			t.Errorf("JSON report = %+v", rep)
		}
		s, err := os.ReadFile(sarif)
		if err != nil || !strings.Contains(string(s), `"version": "2.1.0"`) {
			t.Errorf("SARIF file: %v\n%s", err, s)
		}
		m, err := os.ReadFile(md)
		if err != nil || !strings.Contains(string(m), "⛔ blocked") || !strings.Contains(string(m), "DB updated") {
			t.Errorf("markdown file: %v\n%s", err, m)
		}
	})
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
