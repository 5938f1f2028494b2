package evidence_test

import (
	"crypto/elliptic"
	"errors"
	"testing"
	"time"

	"github.com/sigstore/sigstore/pkg/cryptoutils"

	"github.com/deployment-automator/automator/internal/evidence"
)

func TestPolicyFromFlags(t *testing.T) {
	_, pub, err := cryptoutils.GeneratePEMEncodedECDSAKeyPair(elliptic.P256(), cryptoutils.SkipPassword)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{"cosign.pub": pub, "bad.pub": []byte("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n")}
	read := func(p string) ([]byte, error) {
		if b, ok := files[p]; ok {
			return b, nil
		}
		return nil, errors.New("no such file")
	}
	for _, tc := range []struct {
		name      string
		keys      []string
		atts      []string
		wantErr   bool
		wantAtts  []evidence.Requirement
		wantCount int
	}{
		{name: "key only", keys: []string{"cosign.pub"}, wantCount: 1},
		{name: "types and ages", keys: []string{"cosign.pub"}, atts: []string{"vuln=168h", "cyclonedx", "https://example.com/p"}, wantCount: 1,
			wantAtts: []evidence.Requirement{{Type: evidence.VulnPredicateType, MaxAge: 168 * time.Hour}, {Type: evidence.CycloneDXPredicateType}, {Type: "https://example.com/p"}}},
		{name: "no key", atts: []string{"vuln"}, wantErr: true},
		{name: "missing key file", keys: []string{"nope.pub"}, wantErr: true},
		{name: "key that does not parse", keys: []string{"bad.pub"}, wantErr: true},
		{name: "age not a duration", keys: []string{"cosign.pub"}, atts: []string{"vuln=7d"}, wantErr: true},
		{name: "negative age", keys: []string{"cosign.pub"}, atts: []string{"vuln=-1h"}, wantErr: true},
		{name: "no type", keys: []string{"cosign.pub"}, atts: []string{"=1h"}, wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := evidence.PolicyFromFlags(evidence.Policy{}, read, tc.keys, tc.atts)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, want error %v", err, tc.wantErr)
			}
			if err != nil {
				return
			}
			if len(p.Keys) != tc.wantCount || len(p.Attestations) != len(tc.wantAtts) {
				t.Fatalf("policy = %+v", p)
			}
			for i, a := range tc.wantAtts {
				if p.Attestations[i] != a {
					t.Errorf("attestation %d = %+v, want %+v", i, p.Attestations[i], a)
				}
			}
		})
	}
}

func FuzzParseRequirement(f *testing.F) {
	for _, s := range []string{"vuln", "vuln=168h", "cyclonedx=1m", "=", "a=b=c", "https://x/y=2h"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := evidence.ParseRequirement(s)
		if err == nil && (r.Type == "" || r.MaxAge < 0) {
			t.Errorf("ParseRequirement(%q) = %+v without error", s, r)
		}
	})
}
