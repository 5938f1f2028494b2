package evidence

import (
	"encoding/json"
	"strings"
	"time"

	"github.com/deployment-automator/automator/internal/gate"
)

// VulnPredicate is cosign's vulnerability scan predicate
// (https://cosign.sigstore.dev/attestation/vuln/v1), field for field as
// cosign's pkg/cosign/attestation.CosignVulnPredicate marshals it. It is
// declared here rather than imported because that package is cosign's
// module (see the package doc for why cosign is not a dependency).
type VulnPredicate struct {
	Invocation VulnInvocation `json:"invocation"`
	Scanner    VulnScanner    `json:"scanner"`
	Metadata   VulnMetadata   `json:"metadata"`
}

// VulnInvocation says what ran the scan.
type VulnInvocation struct {
	Parameters any    `json:"parameters"`
	URI        string `json:"uri"`
	EventID    string `json:"event_id"`
	BuilderID  string `json:"builder.id"`
}

// VulnScanner names the scanner, its DB and its result.
type VulnScanner struct {
	URI     string `json:"uri"`
	Version string `json:"version"`
	DB      VulnDB `json:"db"`
	Result  any    `json:"result"`
}

// VulnDB names the vulnerability DB a scan used.
type VulnDB struct {
	URI     string `json:"uri"`
	Version string `json:"version"`
}

// VulnMetadata holds when the scan ran; verification measures a
// vulnerability attestation's age from ScanFinishedOn.
type VulnMetadata struct {
	ScanStartedOn  time.Time `json:"scanStartedOn"`
	ScanFinishedOn time.Time `json:"scanFinishedOn"`
}

// TrivyDBURI names the DB of a Trivy scan in the predicate.
const TrivyDBURI = "pkg:oci/trivy-db"

// NewVulnPredicate is the vulnerability predicate of r: the scanner and its
// version, the DB version (schema and build time) and the scan time, with
// the report (every finding, before any policy) as the result. runURI names
// the CI run that scanned (may be empty).
func NewVulnPredicate(r *gate.Report, runURI string) ([]byte, error) {
	name, version, _ := strings.Cut(r.Scanner, " ")
	if name == "" {
		name = "trivy"
	}
	p := VulnPredicate{
		Invocation: VulnInvocation{URI: runURI, BuilderID: "automator"},
		Scanner: VulnScanner{
			URI: "pkg:github/aquasecurity/" + name + "@" + version, Version: version,
			DB:     VulnDB{URI: TrivyDBURI, Version: r.DB.Version()},
			Result: r,
		},
		Metadata: VulnMetadata{ScanStartedOn: r.ScannedAt, ScanFinishedOn: r.ScannedAt},
	}
	return json.Marshal(p)
}
