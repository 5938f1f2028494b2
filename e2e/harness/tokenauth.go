package harness

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v4"
)

// TokenServer is an in-process Docker registry token server (the "token" auth of distribution). It checks the
// client's basic credentials and issues ES256 JWTs whose x5c header carries a self-signed certificate; that
// certificate is the registry's rootcertbundle, which is how distribution 2.8 verifies the signing key.
// It is served at /token on the registry's front proxy: go-containerregistry refuses token realms on
// loopback addresses unless they match the registry's own host:port.
type TokenServer struct {
	// Realm is the token endpoint URL the registry advertises in WWW-Authenticate.
	Realm string
	// Service is the audience the registry accepts.
	Service string
	// Issuer is the iss claim the registry trusts.
	Issuer string
	// CertPath is the PEM certificate bundle given to the registry as rootcertbundle.
	CertPath string

	user, password string
	key            *ecdsa.PrivateKey
	certDER        []byte

	mu       sync.Mutex
	issued   int
	rejected int
}

// TokenResponse is the JSON body of the token endpoint, per the Docker token authentication specification.
type TokenResponse struct {
	Token       string `json:"token"`
	AccessToken string `json:"access_token"`
	ExpiresIn   int    `json:"expires_in"`
	IssuedAt    string `json:"issued_at"`
}

type resourceActions struct {
	Type    string   `json:"type"`
	Name    string   `json:"name"`
	Actions []string `json:"actions"`
}

func startTokenServer(t testing.TB, user, password, dir string) *TokenServer {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("generating token signing key: %v", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: "automator e2e token signer"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatalf("creating token signing certificate: %v", err)
	}
	certPath := filepath.Join(dir, "token-root.pem")
	if err := os.WriteFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatalf("writing token root certificate: %v", err)
	}
	ts := &TokenServer{
		Service:  "automator-e2e-registry",
		Issuer:   "automator-e2e-token-issuer",
		CertPath: certPath,
		user:     user,
		password: password,
		key:      key,
		certDER:  der,
	}
	return ts
}

// Issued returns how many tokens the server has handed out.
func (ts *TokenServer) Issued() int {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return ts.issued
}

// Rejected returns how many token requests were refused for bad or missing credentials.
func (ts *TokenServer) Rejected() int {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return ts.rejected
}

// serveToken implements GET (basic auth, scope query) and POST (OAuth2 password grant) token requests.
func (ts *TokenServer) serveToken(w http.ResponseWriter, r *http.Request) {
	var user, pass, service string
	var scopes []string
	switch r.Method {
	case http.MethodGet:
		user, pass, _ = r.BasicAuth()
		service = r.URL.Query().Get("service")
		scopes = r.URL.Query()["scope"]
	case http.MethodPost:
		if err := r.ParseForm(); err != nil {
			http.Error(w, `{"error":"invalid_request"}`, http.StatusBadRequest)
			return
		}
		if r.PostForm.Get("grant_type") != "password" {
			http.Error(w, `{"error":"unsupported_grant_type"}`, http.StatusBadRequest)
			return
		}
		user, pass, service = r.PostForm.Get("username"), r.PostForm.Get("password"), r.PostForm.Get("service")
		scopes = strings.Fields(r.PostForm.Get("scope"))
	default:
		w.WriteHeader(http.StatusMethodNotAllowed)
		return
	}
	if user != ts.user || pass != ts.password || user == "" {
		ts.mu.Lock()
		ts.rejected++
		ts.mu.Unlock()
		w.Header().Set("WWW-Authenticate", `Basic realm="automator-e2e-token"`)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = w.Write([]byte(`{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`))
		return
	}
	if service != ts.Service {
		http.Error(w, `{"errors":[{"code":"DENIED","message":"unknown service"}]}`, http.StatusBadRequest)
		return
	}
	access := grantScopes(scopes)
	now := time.Now()
	claims := jwt.MapClaims{
		"iss":    ts.Issuer,
		"sub":    user,
		"aud":    ts.Service,
		"exp":    now.Add(5 * time.Minute).Unix(),
		"nbf":    now.Add(-time.Minute).Unix(),
		"iat":    now.Unix(),
		"jti":    randomHex(8),
		"access": access,
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodES256, claims)
	tok.Header["x5c"] = []string{base64.StdEncoding.EncodeToString(ts.certDER)}
	signed, err := tok.SignedString(ts.key)
	if err != nil {
		http.Error(w, "signing token", http.StatusInternalServerError)
		return
	}
	ts.mu.Lock()
	ts.issued++
	ts.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(TokenResponse{
		Token: signed, AccessToken: signed, ExpiresIn: 300, IssuedAt: now.UTC().Format(time.RFC3339),
	})
}

// grantScopes turns "repository:NAME:pull,push" scopes into access claims, granting the known actions asked for.
// Names may contain colons (host:port prefixes), so the type is before the first colon and the actions after
// the last one.
func grantScopes(scopes []string) []resourceActions {
	out := []resourceActions{}
	for _, raw := range scopes {
		for _, scope := range strings.Fields(raw) {
			first, last := strings.Index(scope, ":"), strings.LastIndex(scope, ":")
			if first < 0 || first == last {
				continue
			}
			typ, name := scope[:first], scope[first+1:last]
			var actions []string
			for _, a := range strings.Split(scope[last+1:], ",") {
				switch a {
				case "pull", "push", "delete", "*":
					actions = append(actions, a)
				}
			}
			if (typ == "repository" || typ == "registry") && len(actions) > 0 {
				out = append(out, resourceActions{Type: typ, Name: name, Actions: actions})
			}
		}
	}
	return out
}
