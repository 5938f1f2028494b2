package harness

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-github/v60/github"
)

const (
	docsURL = "https://docs.github.com/rest"
	// rateLimitPerHour is the primary rate limit the fake advertises for authenticated identities.
	rateLimitPerHour = 5000
)

// IdentityKind says how a request authenticated.
type IdentityKind string

// Identity kinds.
const (
	// IdentityToken is a personal access token or GITHUB_TOKEN registered with AddToken.
	IdentityToken IdentityKind = "token"
	// IdentityInstallation is a GitHub App installation access token.
	IdentityInstallation IdentityKind = "installation"
	// IdentityApp is a GitHub App JWT (only valid on /app endpoints and installation lookups).
	IdentityApp IdentityKind = "app"
	// IdentityNone is an unauthenticated request.
	IdentityNone IdentityKind = ""
)

// Identity is who made a request.
type Identity struct {
	Kind IdentityKind
	// Login is the user login, or "<app-slug>[bot]" for App and installation identities.
	Login          string
	AppID          int64
	InstallationID int64
}

// APIRequest is one request the fake GitHub answered (REST or git smart HTTP).
type APIRequest struct {
	Method string
	// Path is the request path with any /api/v3 prefix removed.
	Path  string
	Query string
	// Endpoint is the route pattern that matched, e.g. "PATCH /repos/{owner}/{repo}/git/refs/{ref...}";
	// "GIT" + path kind for smart HTTP; empty when nothing matched.
	Endpoint string
	Status   int
	Identity Identity
	// Faulted is true when the response was an injected fault.
	Faulted bool
}

// GitHubOption configures StartGitHub.
type GitHubOption func(*GitHub)

// WithInstallationTokenTTL changes how long installation tokens live (GitHub: one hour).
func WithInstallationTokenTTL(d time.Duration) GitHubOption {
	return func(g *GitHub) { g.installationTTL = d }
}

// GitHub is a stateful fake of the GitHub REST API backed by real bare git repositories on disk, also serving
// those repositories over git smart HTTP. It answers with GitHub's JSON shapes, status codes and error bodies
// for the endpoints the automator uses, at both "/" and "/api/v3/".
type GitHub struct {
	// URL is the server root, used as GITHUB_SERVER_URL and for html_url and clone URLs.
	URL string
	// APIURL is URL + "/api/v3", the GitHub Enterprise style API root used as GITHUB_API_URL by Env.
	APIURL string
	// Token is a personal access token registered for the user "automator-bot" at start.
	Token string
	// Root is the directory holding the bare repositories as OWNER/NAME.git.
	Root string

	t               testing.TB
	srv             *httptest.Server
	mux             *http.ServeMux
	tmp             string
	installationTTL time.Duration
	faults          faultSet
	latency         atomic.Int64 // time.Duration added before every REST API answer

	mu            sync.Mutex
	tokens        map[string]*tokenInfo
	users         map[string]bool
	teams         map[string]bool // "org/slug"
	repos         map[string]*repoState
	apps          map[int64]*App
	installations map[int64]*installation
	commitMeta    map[string]CommitRecord // key "owner/name@sha"
	requests      []APIRequest
	rateUsed      map[string]int
	rateReset     time.Time
	nextID        int64
	chat          chatState // collaborator roles and comment reactions (github_chatops.go)
}

type tokenInfo struct {
	id      Identity
	expires time.Time // zero: never
	perms   map[string]string
	repos   []string // installation tokens limited to these repository names; nil: all of the owner's
}

// StartGitHub starts the fake on a loopback httptest server, closed in t.Cleanup.
func StartGitHub(t testing.TB, opts ...GitHubOption) *GitHub {
	t.Helper()
	RequireBinary(t, "git")
	root := t.TempDir()
	g := &GitHub{
		t:               t,
		Root:            filepath.Join(root, "repos"),
		tmp:             filepath.Join(root, "tmp"),
		installationTTL: time.Hour,
		tokens:          map[string]*tokenInfo{},
		users:           map[string]bool{},
		teams:           map[string]bool{},
		repos:           map[string]*repoState{},
		apps:            map[int64]*App{},
		installations:   map[int64]*installation{},
		commitMeta:      map[string]CommitRecord{},
		rateUsed:        map[string]int{},
		rateReset:       time.Now().Add(time.Hour).Truncate(time.Second),
		nextID:          1000,
	}
	for _, opt := range opts {
		opt(g)
	}
	for _, d := range []string{g.Root, g.tmp} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatalf("creating %s: %v", d, err)
		}
	}
	g.mux = http.NewServeMux()
	g.routes()
	g.srv = httptest.NewServer(http.HandlerFunc(g.serveHTTP))
	t.Cleanup(g.srv.Close)
	g.URL = g.srv.URL
	g.APIURL = g.srv.URL + "/api/v3"
	g.Token = "ghp_" + randomHex(18)
	g.AddToken(g.Token, "automator-bot")
	return g
}

// AddToken registers a token (personal access token or GITHUB_TOKEN) for a user login; the user becomes a
// collaborator of every repository.
func (g *GitHub) AddToken(token, login string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.tokens[token] = &tokenInfo{id: Identity{Kind: IdentityToken, Login: login}}
	g.users[strings.ToLower(login)] = true
}

// RevokeToken makes a token unknown, so using it gets 401 Bad credentials.
func (g *GitHub) RevokeToken(token string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	delete(g.tokens, token)
}

// ExpireInstallationTokens makes every installation token minted so far expired (401 on use).
func (g *GitHub) ExpireInstallationTokens() {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, ti := range g.tokens {
		if ti.id.Kind == IdentityInstallation {
			ti.expires = time.Now().Add(-time.Second)
		}
	}
}

// AddUser registers a user login as a collaborator of every repository (reviewers, assignees).
func (g *GitHub) AddUser(login string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.users[strings.ToLower(login)] = true
}

// AddTeam registers team ORG/SLUG so it can be requested as a reviewer.
func (g *GitHub) AddTeam(org, slug string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.teams[strings.ToLower(org+"/"+slug)] = true
}

// Env returns the variables that point a process at this fake the way a runner on GitHub Enterprise would:
// GITHUB_API_URL (the /api/v3 root), GITHUB_SERVER_URL, GITHUB_GRAPHQL_URL, GITHUB_REPOSITORY,
// GITHUB_REPOSITORY_OWNER and GITHUB_TOKEN (the default token).
func (g *GitHub) Env(repo string) map[string]string {
	owner, _, _ := strings.Cut(repo, "/")
	return map[string]string{
		"GITHUB_API_URL":          g.APIURL,
		"GITHUB_SERVER_URL":       g.URL,
		"GITHUB_GRAPHQL_URL":      g.APIURL + "/graphql",
		"GITHUB_REPOSITORY":       repo,
		"GITHUB_REPOSITORY_OWNER": owner,
		"GITHUB_TOKEN":            g.Token,
	}
}

// Client returns a go-github client authenticated with token and pointed at the fake's /api/v3 root.
func (g *GitHub) Client(token string) *github.Client {
	c, err := github.NewClient(nil).WithAuthToken(token).WithEnterpriseURLs(g.APIURL+"/", g.URL+"/api/uploads/")
	if err != nil {
		g.t.Fatalf("creating go-github client: %v", err)
	}
	return c
}

// InjectFault makes matching API or git requests answer with the fault (checked before authentication).
func (g *GitHub) InjectFault(t testing.TB, f Fault) {
	t.Helper()
	if err := g.faults.add(f); err != nil {
		t.Fatal(err)
	}
}

// SetLatency delays every REST API answer by d (0 turns it off), as a GitHub round trip from a runner
// does; git smart HTTP is not delayed.
func (g *GitHub) SetLatency(d time.Duration) { g.latency.Store(int64(d)) }

// PendingFaults reports how many injected faults have not been fully consumed.
func (g *GitHub) PendingFaults() int { return g.faults.pending() }

// ClearFaults drops the injected faults no request has consumed yet, so a test that injects a fault a step
// may or may not reach starts its next step clean.
func (g *GitHub) ClearFaults() { g.faults.clear() }

// Requests returns every request answered so far, in order.
func (g *GitHub) Requests() []APIRequest {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]APIRequest(nil), g.requests...)
}

// ResetRequests forgets the request log, e.g. after seeding.
func (g *GitHub) ResetRequests() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.requests = nil
}

// Calls counts requests whose Endpoint equals endpoint, e.g. "POST /repos/{owner}/{repo}/pulls".
func (g *GitHub) Calls(endpoint string) int {
	n := 0
	for _, r := range g.Requests() {
		if r.Endpoint == endpoint {
			n++
		}
	}
	return n
}

// APICalls counts REST requests (not git smart HTTP), faulted ones included.
func (g *GitHub) APICalls() int {
	n := 0
	for _, r := range g.Requests() {
		if !strings.HasPrefix(r.Endpoint, "GIT ") {
			n++
		}
	}
	return n
}

// Unmatched returns the requests that matched no implemented endpoint (answered 404), so a test can assert
// the code under test only calls endpoints the fake models.
func (g *GitHub) Unmatched() []APIRequest {
	var out []APIRequest
	for _, r := range g.Requests() {
		if r.Endpoint == "" {
			out = append(out, r)
		}
	}
	return out
}

// Writes returns the REST requests that could change state (POST, PATCH, PUT, DELETE) with their identities.
func (g *GitHub) Writes() []APIRequest {
	var out []APIRequest
	for _, r := range g.Requests() {
		if r.Method != http.MethodGet && r.Method != http.MethodHead && !strings.HasPrefix(r.Endpoint, "GIT ") {
			out = append(out, r)
		}
	}
	return out
}

var gitPathRE = regexp.MustCompile(`^/([^/]+)/([^/]+)\.git(/.*)?$`)

func (g *GitHub) serveHTTP(w http.ResponseWriter, r *http.Request) {
	path := r.URL.Path
	if m := gitPathRE.FindStringSubmatch(path); m != nil && !strings.HasPrefix(path, "/repos/") {
		g.serveGit(w, r, m[1], m[2], m[3])
		return
	}
	if strings.HasPrefix(path, "/api/v3/") || path == "/api/v3" {
		path = strings.TrimPrefix(path, "/api/v3")
		if path == "" {
			path = "/"
		}
		r2 := r.Clone(r.Context())
		r2.Header.Set("X-Original-Path", r.URL.Path)
		r2.URL.Path = path
		r2.URL.RawPath = ""
		r = r2
	}
	if d := time.Duration(g.latency.Load()); d > 0 {
		select {
		case <-time.After(d):
		case <-r.Context().Done():
		}
	}
	_, pattern := g.mux.Handler(r)
	if pattern == "/" {
		pattern = ""
	}
	rec := APIRequest{Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Endpoint: pattern}
	if f := g.faults.take(r.Method, r.URL.Path); f != nil {
		writeFault(w, f, "application/json; charset=utf-8")
		rec.Status, rec.Faulted = f.Status, true
		g.record(rec)
		return
	}
	// The request is recorded when its status is written, before the client
	// can see the response, so counts read after a client call returns are
	// complete. Handlers fill in rec (identity, …) before answering.
	sw := &statusRecorder{ResponseWriter: w, onStatus: func(code int) {
		rec.Status = code
		g.record(rec)
	}}
	ctx := context.WithValue(r.Context(), recordKey{}, &rec)
	g.mux.ServeHTTP(sw, r.WithContext(ctx))
	if sw.status == 0 { // the handler wrote nothing: net/http answers 200
		rec.Status = http.StatusOK
		g.record(rec)
	}
}

type recordKey struct{}

func (g *GitHub) record(rec APIRequest) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.requests = append(g.requests, rec)
}

// authMode says which credentials a route accepts.
type authMode int

const (
	authToken authMode = iota // user or installation token
	authJWT                   // GitHub App JWT
	authNone                  // no authentication needed (rate_limit)
)

// call carries one authenticated request to a handler.
type call struct {
	g    *GitHub
	w    http.ResponseWriter
	r    *http.Request
	id   Identity
	tok  *tokenInfo
	repo *repoState
}

// route registers a handler. Routes with {owner}/{repo} resolve the repository (404 when unknown or not
// visible to the identity). perm names the App permission needed ("contents:write", …); tokens have all.
func (g *GitHub) route(pattern string, mode authMode, perm string, h func(*call)) {
	g.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		c := &call{g: g, w: w, r: r}
		switch mode {
		case authJWT:
			app, msg := g.verifyAppJWT(bearer(r))
			if app == nil {
				g.setRateHeaders(w, "ip")
				c.fail(http.StatusUnauthorized, msg)
				return
			}
			c.id = Identity{Kind: IdentityApp, Login: app.Slug + "[bot]", AppID: app.ID}
		case authToken:
			tok, ti := bearer(r), (*tokenInfo)(nil)
			if tok != "" {
				ti = g.lookupToken(tok)
			}
			if tok == "" {
				g.setRateHeaders(w, "ip")
				c.fail(http.StatusUnauthorized, "Requires authentication")
				return
			}
			if ti == nil {
				g.setRateHeaders(w, "ip")
				c.fail(http.StatusUnauthorized, "Bad credentials")
				return
			}
			c.id, c.tok = ti.id, ti
		}
		if rec, ok := r.Context().Value(recordKey{}).(*APIRequest); ok {
			rec.Identity = c.id
		}
		g.setRateHeaders(w, string(c.id.Kind)+":"+c.id.Login+":"+strconv.FormatInt(c.id.InstallationID, 10))
		if owner := r.PathValue("owner"); owner != "" && strings.Contains(pattern, "{repo}") {
			repo := g.lookupRepo(owner, r.PathValue("repo"))
			if repo == nil || !c.canSee(repo) {
				c.fail(http.StatusNotFound, "Not Found")
				return
			}
			c.repo = repo
		}
		if perm != "" && c.tok != nil && c.id.Kind == IdentityInstallation && !hasPerm(c.tok.perms, perm) {
			c.fail(http.StatusForbidden, "Resource not accessible by integration")
			return
		}
		h(c)
	})
}

func hasPerm(perms map[string]string, need string) bool {
	for _, alt := range strings.Split(need, "|") {
		name, level, _ := strings.Cut(alt, ":")
		have := perms[name]
		if have == "write" || have == "admin" || (level == "read" && have == "read") {
			return true
		}
	}
	return false
}

func (c *call) canSee(repo *repoState) bool {
	if c.id.Kind != IdentityInstallation {
		return true
	}
	c.g.mu.Lock()
	inst := c.g.installations[c.id.InstallationID]
	c.g.mu.Unlock()
	if inst == nil || !strings.EqualFold(inst.owner, repo.owner) {
		return false
	}
	if c.tok.repos == nil {
		return true
	}
	for _, n := range c.tok.repos {
		if strings.EqualFold(n, repo.name) {
			return true
		}
	}
	return false
}

func bearer(r *http.Request) string {
	h := r.Header.Get("Authorization")
	for _, p := range []string{"Bearer ", "bearer ", "token ", "Token "} {
		if strings.HasPrefix(h, p) {
			return strings.TrimSpace(h[len(p):])
		}
	}
	return ""
}

func (g *GitHub) lookupToken(tok string) *tokenInfo {
	g.mu.Lock()
	defer g.mu.Unlock()
	ti := g.tokens[tok]
	if ti == nil || (!ti.expires.IsZero() && time.Now().After(ti.expires)) {
		return nil
	}
	return ti
}

func (g *GitHub) setRateHeaders(w http.ResponseWriter, key string) {
	g.mu.Lock()
	if time.Now().After(g.rateReset) {
		g.rateUsed = map[string]int{}
		g.rateReset = time.Now().Add(time.Hour).Truncate(time.Second)
	}
	limit := rateLimitPerHour
	if key == "ip" {
		limit = 60
	}
	g.rateUsed[key]++
	used := g.rateUsed[key]
	reset := g.rateReset
	g.mu.Unlock()
	h := w.Header()
	h.Set("X-RateLimit-Limit", strconv.Itoa(limit))
	h.Set("X-RateLimit-Remaining", strconv.Itoa(max(limit-used, 0)))
	h.Set("X-RateLimit-Reset", strconv.FormatInt(reset.Unix(), 10))
	h.Set("X-RateLimit-Used", strconv.Itoa(used))
	h.Set("X-RateLimit-Resource", "core")
	h.Set("X-GitHub-Api-Version-Selected", "2022-11-28")
	h.Set("X-GitHub-Request-Id", strings.ToUpper(randomHex(8)))
}

// --- responses -----------------------------------------------------------------------------------------

func (c *call) json(status int, v any) {
	c.w.Header().Set("Content-Type", "application/json; charset=utf-8")
	c.w.WriteHeader(status)
	enc := json.NewEncoder(c.w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

// fail writes GitHub's error body {"message":…,"documentation_url":…}.
func (c *call) fail(status int, msg string) {
	c.json(status, map[string]any{"message": msg, "documentation_url": docsURL, "status": strconv.Itoa(status)})
}

// validation writes 422 "Validation Failed" with GitHub's errors array.
func (c *call) validation(errs ...map[string]any) {
	c.json(http.StatusUnprocessableEntity, map[string]any{
		"message": "Validation Failed", "errors": errs, "documentation_url": docsURL, "status": "422",
	})
}

// invalid writes GitHub's 422 for a request body that is missing or has a bad field.
func (c *call) invalid(msg string) {
	c.fail(http.StatusUnprocessableEntity, "Invalid request.\n\n"+msg)
}

// decode reads the JSON body into v (an empty body counts as {}); on malformed JSON it answers 400
// "Problems parsing JSON" like GitHub.
func (c *call) decode(v any) bool {
	body, err := io.ReadAll(io.LimitReader(c.r.Body, 100<<20))
	if err != nil {
		c.fail(http.StatusBadRequest, "Problems parsing JSON")
		return false
	}
	if len(bytes.TrimSpace(body)) == 0 {
		body = []byte("{}")
	}
	if err := json.Unmarshal(body, v); err != nil {
		c.fail(http.StatusBadRequest, "Problems parsing JSON")
		return false
	}
	return true
}

// paginate applies page/per_page (default 30, max 100) and sets GitHub's Link header.
func paginate[T any](c *call, items []T) []T {
	q := c.r.URL.Query()
	per, _ := strconv.Atoi(q.Get("per_page"))
	if per <= 0 {
		per = 30
	}
	per = min(per, 100)
	page, _ := strconv.Atoi(q.Get("page"))
	if page <= 0 {
		page = 1
	}
	last := max((len(items)+per-1)/per, 1)
	link := func(p int, rel string) string {
		u := *c.r.URL
		u.Scheme, u.Host = "http", c.r.Host
		if strings.HasPrefix(c.r.Header.Get("X-Original-Path"), "/api/v3") {
			u.Path = "/api/v3" + u.Path
		}
		qq := u.Query()
		qq.Set("page", strconv.Itoa(p))
		qq.Set("per_page", strconv.Itoa(per))
		u.RawQuery = qq.Encode()
		return fmt.Sprintf("<%s>; rel=%q", u.String(), rel)
	}
	var links []string
	if page < last {
		links = append(links, link(page+1, "next"), link(last, "last"))
	}
	if page > 1 {
		links = append(links, link(1, "first"), link(page-1, "prev"))
	}
	if len(links) > 0 {
		c.w.Header().Set("Link", strings.Join(links, ", "))
	}
	start := (page - 1) * per
	if start >= len(items) {
		return []T{}
	}
	return items[start:min(start+per, len(items))]
}

// --- users and repositories ----------------------------------------------------------------------------

func (g *GitHub) userJSON(login string) map[string]any {
	if login == "" {
		return nil
	}
	typ := "User"
	if strings.HasSuffix(login, "[bot]") {
		typ = "Bot"
	}
	return map[string]any{
		"login": login, "id": idFor(login), "node_id": "U_" + login, "type": typ, "site_admin": false,
		"url": g.APIURL + "/users/" + login, "html_url": g.URL + "/" + login,
	}
}

// idFor derives a stable numeric id from a name.
func idFor(s string) int64 {
	var h int64 = 7
	for _, r := range strings.ToLower(s) {
		h = (h*31 + int64(r)) % 1_000_000_007
	}
	return h
}

func (g *GitHub) ownerJSON(owner string) map[string]any {
	u := g.userJSON(owner)
	g.mu.Lock()
	isUser := g.users[strings.ToLower(owner)]
	g.mu.Unlock()
	if !isUser {
		u["type"] = "Organization"
	}
	return u
}

func (g *GitHub) repoJSON(repo *repoState) map[string]any {
	full := repo.fullName()
	return map[string]any{
		"id": repo.id, "node_id": "R_" + strconv.FormatInt(repo.id, 10), "name": repo.name, "full_name": full,
		"owner": g.ownerJSON(repo.owner), "private": true, "visibility": "private", "fork": false,
		"html_url": g.URL + "/" + full, "url": g.APIURL + "/repos/" + full, "description": nil,
		"clone_url": g.URL + "/" + full + ".git", "default_branch": repo.defaultBranch,
		"archived": false, "disabled": false,
		"permissions": map[string]bool{"admin": false, "maintain": false, "push": true, "triage": true, "pull": true},
		"created_at":  repo.created.UTC().Format(time.RFC3339), "updated_at": repo.created.UTC().Format(time.RFC3339),
	}
}

func (g *GitHub) getRepo(c *call) { c.json(http.StatusOK, g.repoJSON(c.repo)) }

func (g *GitHub) getUser(c *call) {
	if c.id.Kind != IdentityToken {
		c.fail(http.StatusForbidden, "Resource not accessible by integration")
		return
	}
	c.json(http.StatusOK, g.userJSON(c.id.Login))
}

func (g *GitHub) getRateLimit(c *call) {
	g.mu.Lock()
	reset := g.rateReset
	g.mu.Unlock()
	rate := map[string]any{"limit": rateLimitPerHour, "remaining": rateLimitPerHour, "reset": reset.Unix(), "used": 0, "resource": "core"}
	c.json(http.StatusOK, map[string]any{"resources": map[string]any{"core": rate}, "rate": rate})
}

func (g *GitHub) routes() {
	const repo = "/repos/{owner}/{repo}"
	g.route("/", authNone, "", func(c *call) { c.fail(http.StatusNotFound, "Not Found") })
	g.route("GET /rate_limit", authNone, "", g.getRateLimit)
	g.route("GET /user", authToken, "", g.getUser)
	// GitHub Apps
	g.route("GET /app", authJWT, "", g.getApp)
	g.route("GET /app/installations", authJWT, "", g.listInstallations)
	g.route("GET /app/installations/{id}", authJWT, "", g.getInstallation)
	g.route("POST /app/installations/{id}/access_tokens", authJWT, "", g.createInstallationToken)
	g.route("GET /repos/{owner}/{name}/installation", authJWT, "", g.findInstallation)
	g.route("GET /orgs/{owner}/installation", authJWT, "", g.findInstallation)
	g.route("GET /users/{owner}/installation", authJWT, "", g.findInstallation)
	// repositories and contents
	g.route("GET "+repo, authToken, "metadata:read", g.getRepo)
	g.route("GET "+repo+"/branches/{branch...}", authToken, "contents:read", g.getBranch)
	g.route("GET "+repo+"/contents", authToken, "contents:read", g.getContents)
	g.route("GET "+repo+"/contents/{path...}", authToken, "contents:read", g.getContents)
	g.route("GET /raw/{owner}/{repo}/{rest...}", authToken, "contents:read", g.getRaw)
	// git data
	g.route("GET "+repo+"/git/ref/{ref...}", authToken, "contents:read", g.getRef)
	g.route("GET "+repo+"/git/refs/{ref...}", authToken, "contents:read", g.getRefsLegacy)
	g.route("GET "+repo+"/git/matching-refs/{ref...}", authToken, "contents:read", g.matchingRefs)
	g.route("POST "+repo+"/git/refs", authToken, "contents:write", g.createRef)
	g.route("PATCH "+repo+"/git/refs/{ref...}", authToken, "contents:write", g.updateRef)
	g.route("DELETE "+repo+"/git/refs/{ref...}", authToken, "contents:write", g.deleteRef)
	g.route("POST "+repo+"/git/blobs", authToken, "contents:write", g.createBlob)
	g.route("GET "+repo+"/git/blobs/{sha}", authToken, "contents:read", g.getBlob)
	g.route("POST "+repo+"/git/trees", authToken, "contents:write", g.createTree)
	g.route("GET "+repo+"/git/trees/{sha}", authToken, "contents:read", g.getTree)
	g.route("POST "+repo+"/git/commits", authToken, "contents:write", g.createCommit)
	g.route("GET "+repo+"/git/commits/{sha}", authToken, "contents:read", g.getGitCommit)
	g.route("GET "+repo+"/commits", authToken, "contents:read", g.listCommits)
	g.route("GET "+repo+"/commits/{ref...}", authToken, "contents:read", g.getRepoCommit)
	g.route("GET "+repo+"/compare/{basehead...}", authToken, "contents:read", g.compare)
	// pull requests
	g.route("POST "+repo+"/pulls", authToken, "pull_requests:write", g.createPull)
	g.route("GET "+repo+"/pulls", authToken, "pull_requests:read", g.listPulls)
	g.route("GET "+repo+"/pulls/{number}", authToken, "pull_requests:read", g.getPull)
	g.route("PATCH "+repo+"/pulls/{number}", authToken, "pull_requests:write", g.updatePull)
	g.route("PUT "+repo+"/pulls/{number}/merge", authToken, "contents:write", g.mergePullAPI)
	g.route("GET "+repo+"/pulls/{number}/reviews", authToken, "pull_requests:read", g.listReviews)
	g.route("POST "+repo+"/pulls/{number}/requested_reviewers", authToken, "pull_requests:write", g.requestReviewers)
	g.route("POST "+repo+"/issues/{number}/labels", authToken, "issues:write|pull_requests:write", g.addLabels)
	g.route("GET "+repo+"/issues/{number}/labels", authToken, "issues:read|pull_requests:read", g.listLabels)
	g.route("POST "+repo+"/issues/{number}/assignees", authToken, "issues:write|pull_requests:write", g.addAssignees)
	g.route("POST "+repo+"/issues/{number}/comments", authToken, "issues:write|pull_requests:write", g.createComment)
	g.route("GET "+repo+"/issues/{number}/comments", authToken, "issues:read|pull_requests:read", g.listComments)
	g.statusRoutes(repo) // github_statuses.go
	g.chatRoutes()
}

// sortedKeys returns map keys in order, for deterministic JSON arrays.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
