package evidence

import (
	"crypto"
	"fmt"

	"github.com/sigstore/sigstore/pkg/cryptoutils"
	"github.com/sigstore/sigstore/pkg/signature"
)

// LoadPrivateKey parses a PEM private key into a signer: PKCS#8, SEC 1 EC
// or PKCS#1 RSA, or a cosign-format encrypted key (ENCRYPTED SIGSTORE
// PRIVATE KEY, or the older ENCRYPTED COSIGN PRIVATE KEY, as `cosign
// generate-key-pair` writes) opened with password. Signatures use SHA-256,
// as cosign's do.
func LoadPrivateKey(pemBytes, password []byte) (signature.SignerVerifier, error) {
	priv, err := cryptoutils.UnmarshalPEMToPrivateKey(pemBytes, cryptoutils.StaticPasswordFunc(password))
	if err != nil {
		return nil, fmt.Errorf("reading the signing key: %w", err)
	}
	sv, err := signature.LoadSignerVerifier(priv, crypto.SHA256)
	if err != nil {
		return nil, fmt.Errorf("loading the signing key: %w", err)
	}
	return sv, nil
}

// LoadPublicKey parses a PEM public key (as cosign.pub) into a verifier.
func LoadPublicKey(pemBytes []byte) (signature.Verifier, error) {
	pub, err := cryptoutils.UnmarshalPEMToPublicKey(pemBytes)
	if err != nil {
		return nil, fmt.Errorf("reading the public key: %w", err)
	}
	v, err := signature.LoadVerifier(pub, crypto.SHA256)
	if err != nil {
		return nil, fmt.Errorf("loading the public key: %w", err)
	}
	return v, nil
}
