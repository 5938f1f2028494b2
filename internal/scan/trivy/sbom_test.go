package trivy

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/deployment-automator/automator/internal/scan"
	"github.com/deployment-automator/automator/internal/scan/scantest"
)

// The SBOM lists the image's OS and language packages in CycloneDX, with
// the time it was made (what a verify policy's maxAge measures).
func TestSBOM(t *testing.T) {
	s, _ := newTestScanner(t)
	dir, _ := scantest.Layout(t, scantest.Vulnerable, "ghcr.io/acme/cart:1")
	img, err := scan.OpenLayout(dir)
	if err != nil {
		t.Fatal(err)
	}
	b, err := s.SBOM(context.Background(), "ghcr.io/acme/cart:1", img)
	if err != nil {
		t.Fatal(err)
	}
	var bom struct {
		BOMFormat string `json:"bomFormat"`
		Metadata  struct {
			Timestamp string `json:"timestamp"`
		} `json:"metadata"`
		Components []struct {
			Name string `json:"name"`
		} `json:"components"`
	}
	if err := json.Unmarshal(b, &bom); err != nil {
		t.Fatalf("SBOM is not JSON: %v\n%.400s", err, b)
	}
	names := map[string]bool{}
	for _, c := range bom.Components {
		names[c.Name] = true
	}
	if bom.BOMFormat != "CycloneDX" || bom.Metadata.Timestamp == "" || !names["openssl"] {
		t.Errorf("SBOM format %q, timestamp %q, components %v; want CycloneDX with a time and the vulnerable image's OpenSSL", bom.BOMFormat, bom.Metadata.Timestamp, names)
	}
}
