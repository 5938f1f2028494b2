// Package github builds authenticated, well-behaved go-github clients for the
// write-back stage: token or GitHub App authentication, GitHub Enterprise
// Server URLs, bounded retries honouring GitHub's rate limit headers, a user
// agent, and debug logging that never shows credentials.
//
// Domain code should not depend on *github.Client as a whole: internal/gitops
// declares the few methods it uses and this package only hands out clients.
package github

import (
	"context"
	"crypto/rsa"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/bradleyfalzon/ghinstallation/v2"
	jwt "github.com/golang-jwt/jwt/v4"
	gh "github.com/google/go-github/v60/github"
	"go.uber.org/zap"

	"github.com/deployment-automator/automator/internal/config"
	"github.com/deployment-automator/automator/internal/transport"
)

// DefaultAPIURL is the REST API of github.com.
const DefaultAPIURL = "https://api.github.com"

// ErrNoCredentials is returned when neither a token nor an App is configured.
var ErrNoCredentials = errors.New("no GitHub credentials: set GITHUB_TOKEN (or github.tokenEnv) or configure github.app")

// AppAuthError reports that GitHub refused the App's credentials or that the
// App is not installed where it is needed. It never carries the key or a token.
type AppAuthError struct {
	AppID          int64
	InstallationID int64
	Repo           string
	Status         int
	Reason         string
}

func (e *AppAuthError) Error() string {
	where := ""
	if e.Repo != "" {
		where = " for " + e.Repo
	}
	if e.InstallationID != 0 {
		where += fmt.Sprintf(" (installation %d)", e.InstallationID)
	}
	return fmt.Sprintf("authenticating as GitHub App %d%s: HTTP %d: %s", e.AppID, where, e.Status, e.Reason)
}

type options struct {
	token          string
	appID          int64
	key            *rsa.PrivateKey
	installationID int64
	apiURL         string
	userAgent      string
	log            *zap.Logger
	observe        func(string)
	retry          RetryPolicy
	base           http.RoundTripper
	now            func() time.Time
}

// Option configures New. Options validate their argument.
type Option func(*options) error

// WithToken authenticates with a token (GITHUB_TOKEN or a PAT).
func WithToken(token string) Option {
	return func(o *options) error {
		if strings.TrimSpace(token) == "" {
			return errors.New("empty GitHub token")
		}
		o.token = strings.TrimSpace(token)
		return nil
	}
}

// WithApp authenticates as a GitHub App from its ID and PEM private key. When
// installationID is 0 the installation is looked up per repository owner.
func WithApp(appID int64, privateKeyPEM []byte, installationID int64) Option {
	return func(o *options) error {
		if appID <= 0 {
			return fmt.Errorf("invalid GitHub App id %d", appID)
		}
		key, err := jwt.ParseRSAPrivateKeyFromPEM(privateKeyPEM)
		if err != nil {
			// The parser's message never includes key material.
			return fmt.Errorf("parsing the private key of GitHub App %d: %w", appID, err)
		}
		o.appID, o.key, o.installationID = appID, key, installationID
		return nil
	}
}

// WithAPIURL points the client at a GitHub Enterprise Server (or a fake). An
// empty value keeps https://api.github.com.
func WithAPIURL(u string) Option {
	return func(o *options) error {
		if u == "" {
			return nil
		}
		p, err := url.Parse(u)
		if err != nil || p.Scheme == "" || p.Host == "" {
			return fmt.Errorf("invalid GitHub API URL %q: want e.g. https://github.example.com/api/v3", u)
		}
		o.apiURL = strings.TrimRight(u, "/")
		return nil
	}
}

// WithUserAgent sets the User-Agent sent with every request.
func WithUserAgent(ua string) Option {
	return func(o *options) error { o.userAgent = ua; return nil }
}

// WithLogger logs requests and retries at debug level.
func WithLogger(l *zap.Logger) Option {
	return func(o *options) error {
		if l != nil {
			o.log = l
		}
		return nil
	}
}

// WithTokenObserver is called with every installation token the moment it is
// minted (and with the static token at construction), so the caller can
// register it for redaction and ::add-mask:: before anything can print it.
func WithTokenObserver(f func(token string)) Option {
	return func(o *options) error { o.observe = f; return nil }
}

// WithRetryPolicy replaces DefaultRetryPolicy.
func WithRetryPolicy(p RetryPolicy) Option {
	return func(o *options) error {
		if p.MaxAttempts < 1 || p.BaseDelay < 0 || p.MaxDelay < p.BaseDelay {
			return fmt.Errorf("invalid retry policy %+v", p)
		}
		o.retry = p
		return nil
	}
}

// WithBaseTransport sets the transport under all decorators (default
// transport.Base(transport.DefaultTimeouts)). The security guards (no
// credentials on a redirect to another host, no plain HTTP except to
// loopback) are layered on it either way.
func WithBaseTransport(rt http.RoundTripper) Option {
	return func(o *options) error {
		if rt == nil {
			return errors.New("nil base transport")
		}
		o.base = rt
		return nil
	}
}

// WithNetwork sets the deadlines of every GitHub request from config's
// network section.
func WithNetwork(n config.Network) Option {
	return func(o *options) error {
		t, err := transport.ConfigTimeouts(n)
		if err != nil {
			return err
		}
		o.base = transport.Base(t)
		return nil
	}
}

// WithClock sets the clock used to date App JWTs (tests; skewed hosts).
func WithClock(now func() time.Time) Option {
	return func(o *options) error { o.now = now; return nil }
}

// Factory hands out go-github clients. With a token there is one client;
// with an App there is one client per installation, found from the
// repository owner and cached, whose tokens are cached and refreshed by
// ghinstallation a minute before they expire. It is safe for concurrent use.
type Factory struct {
	o       options
	apiURL  string
	inner   http.RoundTripper
	apps    *ghinstallation.AppsTransport
	mu      sync.Mutex
	byOwner map[string]int64
	clients map[int64]*gh.Client
	static  *gh.Client
}

// New validates the options and builds a Factory. Exactly one of WithToken
// and WithApp must be given.
func New(opts ...Option) (*Factory, error) {
	o := options{userAgent: "automator", log: zap.NewNop(), retry: DefaultRetryPolicy, base: transport.Base(transport.DefaultTimeouts), now: time.Now}
	for _, opt := range opts {
		if err := opt(&o); err != nil {
			return nil, err
		}
	}
	switch {
	case o.token != "" && o.key != nil:
		return nil, errors.New("both a GitHub token and a GitHub App are configured; choose one")
	case o.token == "" && o.key == nil:
		return nil, ErrNoCredentials
	}
	f := &Factory{o: o, byOwner: map[string]int64{}, clients: map[int64]*gh.Client{}}
	// Guards sit under every transport that adds credentials (go-github's
	// token, installation tokens), so that they see each redirect hop.
	guarded := transport.NoForeignCredentials(transport.RequireTLS(o.base, nil))
	inner, err := newRetryTransport(&userAgentTransport{next: &loggingTransport{next: guarded, log: o.log}, ua: o.userAgent}, o.retry, o.log)
	if err != nil {
		return nil, err
	}
	f.inner = inner
	probe, err := f.newClient(&http.Client{Transport: f.inner})
	if err != nil {
		return nil, err
	}
	f.apiURL = strings.TrimRight(probe.BaseURL.String(), "/")
	if o.token != "" {
		if o.observe != nil {
			o.observe(o.token)
		}
		f.static = probe.WithAuthToken(o.token)
		return f, nil
	}
	apps, err := ghinstallation.NewAppsTransportWithOptions(f.inner, o.appID, ghinstallation.WithSigner(&clockSigner{key: o.key, now: o.now}))
	if err != nil {
		return nil, fmt.Errorf("creating GitHub App transport: %w", err)
	}
	apps.BaseURL = f.apiURL
	f.apps = apps
	return f, nil
}

func (f *Factory) newClient(hc *http.Client) (*gh.Client, error) {
	c := gh.NewClient(hc)
	c.UserAgent = f.o.userAgent
	if f.o.apiURL == "" || f.o.apiURL == DefaultAPIURL {
		return c, nil
	}
	c, err := c.WithEnterpriseURLs(f.o.apiURL, f.o.apiURL)
	if err != nil {
		return nil, fmt.Errorf("setting GitHub API URL %q: %w", f.o.apiURL, err)
	}
	return c, nil
}

// IsApp reports whether requests are made as a GitHub App installation. App
// commits carry no custom author, so GitHub signs them (Verified).
func (f *Factory) IsApp() bool { return f.apps != nil }

// APIURL is the REST API base URL in use, without a trailing slash.
func (f *Factory) APIURL() string { return f.apiURL }

// Client returns the client for repository owner/repo.
func (f *Factory) Client(ctx context.Context, owner, repo string) (*gh.Client, error) {
	if f.static != nil {
		return f.static, nil
	}
	id, err := f.installation(ctx, owner, repo)
	if err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if c, ok := f.clients[id]; ok {
		return c, nil
	}
	itr := ghinstallation.NewFromAppsTransport(f.apps, id)
	itr.BaseURL = f.apiURL
	c, err := f.newClient(&http.Client{Transport: &observingTransport{itr: itr, next: f.inner, observe: f.o.observe, appID: f.o.appID, repo: owner + "/" + repo}})
	if err != nil {
		return nil, err
	}
	f.clients[id] = c
	return c, nil
}

func (f *Factory) installation(ctx context.Context, owner, repo string) (int64, error) {
	if f.o.installationID != 0 {
		return f.o.installationID, nil
	}
	f.mu.Lock()
	id, ok := f.byOwner[owner]
	f.mu.Unlock()
	if ok {
		return id, nil
	}
	appClient, err := f.newClient(&http.Client{Transport: f.apps})
	if err != nil {
		return 0, err
	}
	inst, resp, err := appClient.Apps.FindRepositoryInstallation(ctx, owner, repo)
	if err != nil {
		if resp != nil {
			return 0, &AppAuthError{AppID: f.o.appID, Repo: owner + "/" + repo, Status: resp.StatusCode, Reason: appReason(resp.StatusCode, "finding the installation")}
		}
		return 0, fmt.Errorf("finding the installation of GitHub App %d for %s/%s: %w", f.o.appID, owner, repo, err)
	}
	f.mu.Lock()
	f.byOwner[owner] = inst.GetID()
	f.mu.Unlock()
	return inst.GetID(), nil
}

func appReason(status int, doing string) string {
	switch status {
	case http.StatusUnauthorized:
		return doing + ": GitHub rejected the App JWT; check the App id and that the private key belongs to it, and that this host's clock is right"
	case http.StatusNotFound:
		return doing + ": the App is not installed on this repository (install it with contents: write, pull-requests: write, metadata: read)"
	case http.StatusForbidden:
		return doing + ": the App lacks permission (needs contents: write, pull-requests: write, metadata: read)"
	}
	return doing + " failed"
}

// observingTransport mints (or reuses) the installation token, reports each
// new token to the observer before it is used, and turns token failures into
// AppAuthError.
type observingTransport struct {
	itr     *ghinstallation.Transport
	next    http.RoundTripper
	observe func(string)
	appID   int64
	repo    string
	mu      sync.Mutex
	last    string
}

func (t *observingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	tok, err := t.itr.Token(req.Context())
	if err != nil {
		if req.Body != nil {
			_ = req.Body.Close()
		}
		var he *ghinstallation.HTTPError
		if errors.As(err, &he) && he.Response != nil {
			_ = he.Response.Body.Close()
			return nil, &AppAuthError{AppID: t.appID, InstallationID: t.itr.InstallationID(), Repo: t.repo,
				Status: he.Response.StatusCode, Reason: appReason(he.Response.StatusCode, "minting an installation token")}
		}
		return nil, fmt.Errorf("minting an installation token for GitHub App %d: %w", t.appID, err)
	}
	t.mu.Lock()
	if tok != t.last {
		t.last = tok
		if t.observe != nil {
			t.observe(tok)
		}
	}
	t.mu.Unlock()
	// Send with the token just obtained instead of itr.RoundTrip, which would
	// ask for (and near expiry, mint) a token a second time.
	creq := req.Clone(req.Context())
	creq.Header.Set("Authorization", "token "+tok)
	return t.next.RoundTrip(creq)
}

// clockSigner signs App JWTs with times from its own clock: issued 30s in
// the past (GitHub's advice against clock drift), valid for 2 minutes.
type clockSigner struct {
	key *rsa.PrivateKey
	now func() time.Time
}

func (s *clockSigner) Sign(claims jwt.Claims) (string, error) {
	rc, ok := claims.(*jwt.RegisteredClaims)
	if !ok {
		return "", fmt.Errorf("unexpected JWT claims type %T", claims)
	}
	iat := s.now().Add(-30 * time.Second).Truncate(time.Second)
	c := *rc
	c.IssuedAt = jwt.NewNumericDate(iat)
	c.ExpiresAt = jwt.NewNumericDate(iat.Add(2 * time.Minute))
	return jwt.NewWithClaims(jwt.SigningMethodRS256, c).SignedString(s.key)
}
