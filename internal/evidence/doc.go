// Package evidence signs, attests and verifies images in cosign's formats,
// and carries that evidence along when an image is copied, so that what an
// environment trusts travels with the digest.
//
// # Formats
//
// Everything written is what the cosign CLI writes and reads with a key
// (`cosign sign --key`, `cosign attest --key`), so either tool verifies the
// other's output:
//
//   - a signature is a layer of the image tagged sha256-<hex>.sig in the
//     signed image's repository: the simple-signing payload
//     (application/vnd.dev.cosign.simplesigning.v1+json, naming the signed
//     manifest digest) with its base64 signature in the layer annotation
//     dev.cosignproject.cosign/signature;
//   - an attestation is a layer of the image tagged sha256-<hex>.att: a DSSE
//     envelope (application/vnd.dsse.envelope.v1+json) around an in-toto
//     statement whose subject is the image digest, annotated with its
//     predicateType. The scan is attested with cosign's vulnerability
//     predicate (https://cosign.sigstore.dev/attestation/vuln/v1), the SBOM
//     as CycloneDX (https://cyclonedx.org/bom).
//
// # Libraries
//
// Keys, signatures, the simple-signing payload and DSSE come from
// sigstore/sigstore (pkg/cryptoutils, pkg/signature, pkg/signature/payload,
// pkg/signature/dsse), statements from in-toto/attestation, registry I/O from
// go-containerregistry. cosign's own packages are not imported: its
// pkg/cosign pulls Fulcio, Rekor, TUF and timestamp clients (and cosign/v3 a
// sigstore-go that needs a newer Go than ours; sigstore-go v1.4.0 needs Go
// 1.27), none of which key-based signing uses. What is left by hand is the
// two-line layout of the .sig/.att images above and the vulnerability
// predicate's struct (cosign's pkg/cosign/attestation.CosignVulnPredicate),
// both kept byte-compatible and checked against the cosign CLI in e2e.
//
// # Keyless
//
// Keyless signing (a GitHub OIDC token exchanged at Fulcio for a short-lived
// certificate, the signature logged in Rekor) is not supported yet: it
// cannot be tested offline. Its place is a second Signer implementation
// (signature.SignerVerifier backed by the Fulcio certificate, the bundle
// annotations dev.sigstore.cosign/certificate, /chain and /bundle on each
// layer) and a Policy whose trust is a certificate identity and issuer
// rather than a key; the layout written and read here stays the same.
// Verification here never consults a transparency log: the trusted keys are
// the whole trust, as with `cosign verify --key --insecure-ignore-tlog`.
package evidence
