package trivy

import (
	"bytes"
	"context"
	"fmt"
	"strings"

	"github.com/aquasecurity/trivy/pkg/report/cyclonedx"
	trivyscan "github.com/aquasecurity/trivy/pkg/scan"
	"github.com/aquasecurity/trivy/pkg/types"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// SBOM is the CycloneDX JSON of img's OS and language packages, as `trivy
// image --format cyclonedx` writes it (Trivy's own marshaler), for the
// SBOM attestation internal/evidence signs. Layers a Scan of the same image
// analysed are read back from Trivy's cache, so this costs no second
// analysis; no vulnerability detection runs.
func (t *Trivy) SBOM(ctx context.Context, ref string, img v1.Image) ([]byte, error) {
	shared.scans.RLock()
	defer shared.scans.RUnlock()
	art, err := newArtifact(trivyImage{Image: img, name: ref}, t.cache, t.artifactOption())
	if err != nil {
		return nil, fmt.Errorf("preparing the SBOM of image %q: %w", ref, err)
	}
	opts := scanOptions()
	opts.Scanners = types.Scanners{types.SBOMScanner}
	rep, err := trivyscan.NewService(t.backend, art).ScanArtifact(ctx, opts)
	if err != nil {
		return nil, fmt.Errorf("listing the packages of image %q: %w", ref, err)
	}
	var b bytes.Buffer
	if err := cyclonedx.NewWriter(&b, strings.TrimPrefix(t.version, "trivy ")).Write(ctx, rep); err != nil {
		return nil, fmt.Errorf("writing the SBOM of image %q: %w", ref, err)
	}
	return b.Bytes(), nil
}
