package evidence

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/sigstore/sigstore/pkg/signature"

	"github.com/deployment-automator/automator/internal/config"
	"github.com/deployment-automator/automator/internal/gate"
)

// Writer is the evidence the build stage leaves on every image it pushes:
// a signature and, with Attest, the scan as a vulnerability attestation and
// the SBOM as a CycloneDX attestation.
type Writer struct {
	Signer *Signer
	// Attest adds the scan and SBOM attestations.
	Attest bool
	// SBOM makes the CycloneDX JSON of an image (REPOSITORY@DIGEST) — the
	// scanner's, internal/scan; nil attests no SBOM.
	SBOM func(ctx context.Context, image string) ([]byte, error)
	// RunURI names the CI run in the vulnerability predicate (may be empty).
	RunURI string
}

// Write signs image (REPOSITORY@DIGEST) and, with Attest, attests report
// (nil: not scanned, no vulnerability attestation) and its SBOM.
func (w Writer) Write(ctx context.Context, image string, report *gate.Report) ([]Attached, error) {
	sig, err := w.Signer.Sign(ctx, image)
	if err != nil {
		return nil, err
	}
	out := []Attached{sig}
	if !w.Attest {
		return out, nil
	}
	if report != nil {
		p, err := NewVulnPredicate(report, w.RunURI)
		if err != nil {
			return out, fmt.Errorf("attesting the scan of %s: %w", image, err)
		}
		a, err := w.Signer.Attest(ctx, image, VulnPredicateType, p)
		if err != nil {
			return out, err
		}
		out = append(out, a)
	}
	if w.SBOM != nil {
		bom, err := w.SBOM(ctx, image)
		if err != nil {
			return out, fmt.Errorf("making the SBOM of %s: %w", image, err)
		}
		a, err := w.Signer.Attest(ctx, image, CycloneDXPredicateType, bom)
		if err != nil {
			return out, err
		}
		out = append(out, a)
	}
	return out, nil
}

// KeyFromConfig loads sign's private key: keyFile (read with read, relative
// paths from the repository) or the PEM in the environment variable keyEnv,
// opened with the password in passwordEnv when it is encrypted. Errors name
// the setting, never the key.
func KeyFromConfig(s *config.Sign, read func(string) ([]byte, error), getenv func(string) string) (signature.SignerVerifier, error) {
	var pem []byte
	switch {
	case s.KeyFile != "":
		b, err := read(s.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("sign.keyFile: %w", err)
		}
		pem = b
	case s.KeyEnv != "":
		pem = []byte(getenv(s.KeyEnv))
		if len(pem) == 0 {
			return nil, fmt.Errorf("sign.keyEnv: $%s is empty", s.KeyEnv)
		}
	default:
		return nil, errors.New("sign: set keyFile or keyEnv (keyless signing is not supported yet)")
	}
	k, err := LoadPrivateKey(pem, []byte(getenv(s.Password())))
	if err != nil {
		return nil, fmt.Errorf("sign: %w (password from $%s)", err, s.Password())
	}
	return k, nil
}

// ActionsRunURI is the URL of the GitHub Actions run this process is part
// of ($GITHUB_SERVER_URL/$GITHUB_REPOSITORY/actions/runs/$GITHUB_RUN_ID),
// or "" outside Actions.
func ActionsRunURI(getenv func(string) string) string {
	server, repo, run := getenv("GITHUB_SERVER_URL"), getenv("GITHUB_REPOSITORY"), getenv("GITHUB_RUN_ID")
	if server == "" || repo == "" || run == "" {
		return ""
	}
	return strings.TrimRight(server, "/") + "/" + repo + "/actions/runs/" + run
}
