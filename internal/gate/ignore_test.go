package gate

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParseIgnoreText(t *testing.T) {
	l, err := ParseIgnore(".trivyignore", []byte(`# accepted risks
CVE-2023-9999
CVE-2021-38561 exp:2026-06-30

   GHSA-xxxx-yyyy exp:2020-01-01 # old
`))
	if err != nil {
		t.Fatal(err)
	}
	if len(l.Rules) != 3 {
		t.Fatalf("rules = %+v", l.Rules)
	}
	want := []struct {
		id, src string
		exp     time.Time
	}{
		{"CVE-2023-9999", ".trivyignore:2", time.Time{}},
		{"CVE-2021-38561", ".trivyignore:3", time.Date(2026, 6, 30, 0, 0, 0, 0, time.UTC)},
		{"GHSA-xxxx-yyyy", ".trivyignore:5", time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)},
	}
	for i, w := range want {
		r := l.Rules[i]
		if r.ID != w.id || r.Source != w.src || !r.ExpiredAt.Equal(w.exp) {
			t.Errorf("rule %d = %+v, want %+v", i, r, w)
		}
	}
	if l.Rules[0].Expired(now) || l.Rules[1].Expired(now) || !l.Rules[2].Expired(now) {
		t.Error("expiry evaluation wrong")
	}
}

func TestParseIgnoreErrors(t *testing.T) {
	tests := []struct {
		name, file, data, want string
	}{
		{"bad text date", ".trivyignore", "CVE-1\nCVE-2 exp:2026-13-01\n", ".trivyignore:2: invalid expiry"},
		{"unknown yaml key", "ig.yaml", "vulnerabilities:\n  - id: CVE-1\n    expires_at: 2026-01-01\n", "ig.yaml:2: vulnerabilities[0]"},
		{"missing id", "ig.yml", "vulnerabilities:\n  - statement: x\n", "vulnerabilities[0].id: required"},
		{"bad date", "ig.yaml", "vulnerabilities:\n  - id: CVE-1\n    expired_at: next week\n", "vulnerabilities[0].expired_at"},
		{"bad glob", "ig.yaml", "vulnerabilities:\n  - id: CVE-1\n    paths: ['a/[b']\n", "vulnerabilities[0].paths[0]: invalid glob"},
		{"bad purl", "ig.yaml", "vulnerabilities:\n  - id: CVE-1\n    purls: ['nope']\n", "vulnerabilities[0].purls[0]: invalid package URL"},
		{"unknown section", "ig.yaml", "vulns:\n  - id: CVE-1\n", "field vulns not found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseIgnore(tt.file, []byte(tt.data))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestIgnoreRuleMatches(t *testing.T) {
	l, err := ParseIgnore(".trivyignore.yaml", []byte(`
vulnerabilities:
  - id: CVE-2021-38561
    paths: ["app/**"]
  - id: CVE-2023-9999
    purls: ["pkg:apk/alpine/openssl"]
  - id: CVE-2024-0002
    purls: ["pkg:apk/alpine/zlib@9.9.9"]
  - id: CVE-2024-0001
    paths: ["other/*"]
misconfigurations:
  - id: AVD-DS-0002
`))
	if err != nil {
		t.Fatal(err)
	}
	r := sampleReport()
	got := map[string]bool{}
	for _, f := range r.Findings {
		rule, _ := l.match(f, now)
		got[f.ID] = rule != nil
	}
	want := map[string]bool{
		"CVE-2021-38561": true,  // path glob matches the binary
		"CVE-2023-9999":  true,  // versionless PURL matches openssl@3.1.0-r0
		"CVE-2024-0002":  true,  // the finding has no PURL: Trivy matches any package then
		"CVE-2024-0001":  false, // path glob does not match
	}
	for id, w := range want {
		if got[id] != w {
			t.Errorf("%s matched = %v, want %v", id, got[id], w)
		}
	}
	versioned := l.Rules[2]
	withPURL := Finding{ID: "CVE-2024-0002", PURL: "pkg:apk/alpine/zlib@1.2.13-r1"}
	if versioned.Matches(withPURL) {
		t.Error("a PURL pinned to another version matched")
	}
}

func TestLoadIgnoreFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, ".trivyignore")
	if err := os.WriteFile(p, []byte("CVE-1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	l, err := LoadIgnoreFile(p)
	if err != nil || len(l.Rules) != 1 || l.File != p {
		t.Fatalf("LoadIgnoreFile = %+v, %v", l, err)
	}
	if _, err := LoadIgnoreFile(filepath.Join(dir, "missing.yaml")); err == nil || !strings.Contains(err.Error(), "missing.yaml") {
		t.Errorf("missing file error = %v", err)
	}
	empty, err := ParseIgnore("empty.yaml", nil)
	if err != nil || len(empty.Rules) != 0 {
		t.Errorf("empty yaml = %+v, %v", empty, err)
	}
}
