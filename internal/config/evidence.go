package config

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// Sign configures signing of the images automator pushes: a cosign-format
// signature of every pushed digest and, unless Attest is false, a signed
// vulnerability attestation and CycloneDX SBOM. Keyless signing (GitHub
// OIDC → Fulcio/Rekor) is not supported yet.
type Sign struct {
	KeyFile     string `yaml:"keyFile,omitempty" doc:"PEM private key file: PKCS#8, EC or RSA, or a cosign-format encrypted key (cosign generate-key-pair); relative paths are read from the repository."`
	KeyEnv      string `yaml:"keyEnv,omitempty" doc:"Environment variable holding the PEM private key (a CI secret); used when keyFile is empty."`
	PasswordEnv string `yaml:"passwordEnv,omitempty" doc:"Environment variable holding the password of an encrypted key." default:"COSIGN_PASSWORD"`
	Attest      *bool  `yaml:"attest,omitempty" doc:"Also attest each signed image's scan (cosign's vuln predicate) and SBOM (CycloneDX), naming the DB version and scan time." default:"true"`
}

// Attests reports whether signed images also get scan and SBOM attestations.
func (s *Sign) Attests() bool { return s != nil && (s.Attest == nil || *s.Attest) }

// Password is the environment variable of the key's password.
func (s *Sign) Password() string {
	if s.PasswordEnv == "" {
		return "COSIGN_PASSWORD"
	}
	return s.PasswordEnv
}

// Verify is what an environment requires of an image before it is promoted
// there. A signature by one of Keys is always required.
type Verify struct {
	Keys         []string              `yaml:"keys" doc:"PEM public key files (cosign.pub) trusted to sign images for this environment, relative to the repository; a signature by any one is required." required:"true"`
	Attestations []RequiredAttestation `yaml:"attestations,omitempty" doc:"Attestations required besides the signature, each signed by one of the keys."`
}

// RequiredAttestation is one attestation an environment requires.
type RequiredAttestation struct {
	Type   string `yaml:"type" doc:"Attestation type: vuln (cosign's vulnerability predicate), cyclonedx, or a predicate type URI." required:"true"`
	MaxAge string `yaml:"maxAge,omitempty" doc:"Oldest acceptable scan (vuln) or BOM (cyclonedx) time as a Go duration, e.g. 168h; empty accepts any age."`
}

// Age is MaxAge parsed (0 when empty; validation rejects bad values).
func (r RequiredAttestation) Age() time.Duration {
	d, _ := time.ParseDuration(r.MaxAge)
	return d
}

// ReadFile reads a file the config names (a key file): an absolute path
// from the file system, a relative one from the repository the config was
// loaded with (or the working directory without one).
func (c *Config) ReadFile(path string) ([]byte, error) {
	if filepath.IsAbs(path) || c.repo == nil {
		return os.ReadFile(path)
	}
	return fs.ReadFile(c.repo, filepath.ToSlash(filepath.Clean(path)))
}

// validateEvidence checks sign and environments[].verify.
func (c *Config) validateEvidence(add func(keyPath, format string, args ...any)) {
	if s := c.Sign; s != nil && s.KeyFile == "" && s.KeyEnv == "" {
		add("sign", "set keyFile or keyEnv: keyless signing is not supported yet")
	}
	for i, e := range c.Environments {
		if e.Verify == nil {
			continue
		}
		p := fmt.Sprintf("environments[%d].verify", i)
		if len(e.Verify.Keys) == 0 {
			add(p+".keys", "list at least one public key: a signature is always required")
		}
		for j, a := range e.Verify.Attestations {
			if d, err := time.ParseDuration(a.MaxAge); a.MaxAge != "" && (err != nil || d <= 0) {
				add(fmt.Sprintf("%s.attestations[%d].maxAge", p, j), "want a positive Go duration such as 168h, got %q", a.MaxAge)
			}
		}
	}
}
