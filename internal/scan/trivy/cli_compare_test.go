package trivy

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"

	"github.com/deployment-automator/automator/internal/scan"
	"github.com/deployment-automator/automator/internal/scan/scantest"
)

// trivyBinary finds the trivy CLI built from the same module version
// ($TRIVY_BIN, else PATH). Without it the test skips locally; in CI ($CI
// set) it fails, so the comparison is never silently lost there.
func trivyBinary(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("TRIVY_BIN"); p != "" {
		return p
	}
	p, err := exec.LookPath("trivy")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("trivy CLI not found: run `make tools` (it builds the CLI of the same module version into bin/tools/trivy) and set TRIVY_BIN, as make test does")
		}
		t.Skip("trivy CLI not found; set TRIVY_BIN to compare with `trivy image --input`")
	}
	return p
}

type cliReport struct {
	Results []struct {
		Target          string
		Vulnerabilities []struct {
			VulnerabilityID  string
			PkgName          string
			PkgPath          string
			InstalledVersion string
			FixedVersion     string
			Severity         string
		}
	}
}

// TestSameFindingsAsTrivyCLI scans the same OCI layouts with the same DB
// through the library and through `trivy image --input` and requires the
// same IDs, packages, versions, severities and targets.
func TestSameFindingsAsTrivyCLI(t *testing.T) {
	bin := trivyBinary(t)
	s, cacheDir := newTestScanner(t)
	specs := map[string]scantest.ImageSpec{
		"vulnerable": scantest.Vulnerable,
		"fixed":      scantest.Fixed,
		"mixed":      {OpenSSL: "3.1.3-r0", Text: scantest.TextVulnerable, Files: map[string]string{"etc/motd": "hi\n"}},
	}
	for name, spec := range specs {
		t.Run(name, func(t *testing.T) {
			layoutDir, _ := scantest.Layout(t, spec, "cart:"+name)
			img, err := scan.OpenLayout(layoutDir)
			if err != nil {
				t.Fatal(err)
			}
			r, err := s.Scan(context.Background(), layoutDir, img)
			if err != nil {
				t.Fatal(err)
			}
			var ours []string
			for _, f := range r.Findings {
				ours = append(ours, fmt.Sprintf("%s|%s|%s|%s|%s|%s", f.Target, f.ID, f.Package, f.Installed, f.Fixed, f.Severity))
			}
			slices.Sort(ours)

			// The CLI gets its own copy of the DB: the library holds the
			// cache dir's BoltDB files open.
			cliCache := t.TempDir()
			for _, f := range []string{"trivy.db", "metadata.json"} {
				copyFile(t, filepath.Join(cacheDir, "db", f), filepath.Join(cliCache, "db", f))
			}
			cmd := exec.Command(bin, "image", "--cache-dir", cliCache, "--skip-db-update", "--skip-java-db-update",
				"--offline-scan", "--scanners", "vuln", "--quiet", "--format", "json", "--input", layoutDir)
			cmd.Env = append(os.Environ(), "TRIVY_NO_PROGRESS=true", "TRIVY_DISABLE_VEX_NOTICE=true")
			out, err := cmd.Output()
			if err != nil {
				var stderr []byte
				if ee, ok := err.(*exec.ExitError); ok {
					stderr = ee.Stderr
				}
				t.Fatalf("%s: %v\n%s", cmd, err, stderr)
			}
			var rep cliReport
			if err := json.Unmarshal(out, &rep); err != nil {
				t.Fatalf("parsing trivy output: %v\n%s", err, out)
			}
			var theirs []string
			for _, res := range rep.Results {
				for _, v := range res.Vulnerabilities {
					theirs = append(theirs, fmt.Sprintf("%s|%s|%s|%s|%s|%s", res.Target, v.VulnerabilityID, v.PkgName, v.InstalledVersion, v.FixedVersion, v.Severity))
				}
			}
			slices.Sort(theirs)
			if !slices.Equal(ours, theirs) {
				t.Errorf("library and CLI disagree:\nlibrary %q\n    cli %q", ours, theirs)
			}
			if name != "fixed" && len(theirs) == 0 {
				t.Error("the CLI found nothing in a vulnerable image: the comparison proves nothing")
			}
			t.Logf("%d findings agree: %q", len(ours), ours)
		})
	}
}

func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		t.Fatal(err)
	}
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}
