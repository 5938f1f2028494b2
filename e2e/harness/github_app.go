package harness

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v4"
)

// jwtLeeway is the clock skew the fake tolerates on App JWT iat and exp.
const jwtLeeway = 5 * time.Second

// App is a GitHub App registered with the fake.
type App struct {
	ID   int64
	Slug string
	// PrivateKeyPEM is the App's RSA private key (PKCS#1 PEM), as GitHub lets you download it.
	PrivateKeyPEM []byte
	// Permissions granted to installation tokens, e.g. {"contents":"write"}.
	Permissions map[string]string

	public *rsa.PublicKey
}

type installation struct {
	id      int64
	appID   int64
	owner   string
	created time.Time
}

// DefaultAppPermissions are the permissions the automator documents for its App.
func DefaultAppPermissions() map[string]string {
	return map[string]string{"contents": "write", "pull_requests": "write", "metadata": "read", "statuses": "write"}
}

// RegisterApp creates a GitHub App with a fresh 2048-bit RSA key and the given installation permissions
// (DefaultAppPermissions when nil).
func (g *GitHub) RegisterApp(slug string, permissions map[string]string) *App {
	g.t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		g.t.Fatalf("generating App key: %v", err)
	}
	if permissions == nil {
		permissions = DefaultAppPermissions()
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.nextID++
	app := &App{
		ID: g.nextID, Slug: slug, Permissions: permissions, public: &key.PublicKey,
		PrivateKeyPEM: pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}),
	}
	g.apps[app.ID] = app
	g.users[strings.ToLower(slug+"[bot]")] = true
	return app
}

// InstallApp installs the App on an owner (user or organization) for all its repositories and returns the
// installation ID.
func (g *GitHub) InstallApp(app *App, owner string) int64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.nextID++
	g.installations[g.nextID] = &installation{id: g.nextID, appID: app.ID, owner: owner, created: time.Now()}
	return g.nextID
}

// SignAppJWT signs an App JWT with the App's key and the given iat/exp, for tests of JWT validation.
func (a *App) SignAppJWT(iat, exp time.Time) (string, error) {
	block, _ := pem.Decode(a.PrivateKeyPEM)
	key, err := x509.ParsePKCS1PrivateKey(block.Bytes)
	if err != nil {
		return "", fmt.Errorf("parsing App key: %w", err)
	}
	claims := jwt.MapClaims{"iat": iat.Unix(), "exp": exp.Unix(), "iss": strconv.FormatInt(a.ID, 10)}
	return jwt.NewWithClaims(jwt.SigningMethodRS256, claims).SignedString(key)
}

// verifyAppJWT checks an App JWT like GitHub: RS256, iss = a registered App ID, signed by that App's key,
// exp in the future but at most 10 minutes ahead, iat not in the future. It returns the App or GitHub's message.
func (g *GitHub) verifyAppJWT(raw string) (*App, string) {
	const undecodable = "A JSON web token could not be decoded"
	if raw == "" {
		return nil, "A JSON web token could not be decoded"
	}
	var app *App
	parser := jwt.NewParser(jwt.WithValidMethods([]string{"RS256"}), jwt.WithoutClaimsValidation())
	claims := jwt.MapClaims{}
	_, err := parser.ParseWithClaims(raw, claims, func(tok *jwt.Token) (any, error) {
		var id int64
		switch iss := claims["iss"].(type) {
		case string:
			id, _ = strconv.ParseInt(iss, 10, 64)
		case float64:
			id = int64(iss)
		}
		g.mu.Lock()
		app = g.apps[id]
		g.mu.Unlock()
		if app == nil {
			return nil, fmt.Errorf("unknown app %v", claims["iss"])
		}
		return app.public, nil
	})
	if err != nil {
		if app == nil && claims["iss"] != nil {
			return nil, "Integration not found"
		}
		return nil, undecodable
	}
	now := time.Now()
	exp, ok := claims["exp"].(float64)
	if !ok || time.Unix(int64(exp), 0).Before(now.Add(-jwtLeeway)) {
		return nil, "'Expiration time' claim ('exp') must be a numeric value representing the future time at which the assertion expires"
	}
	if time.Unix(int64(exp), 0).After(now.Add(10*time.Minute + jwtLeeway)) {
		return nil, "'Expiration time' claim ('exp') is too far in the future"
	}
	iat, ok := claims["iat"].(float64)
	if !ok || time.Unix(int64(iat), 0).After(now.Add(jwtLeeway)) {
		return nil, "'Issued at' claim ('iat') must be an Integer representing the time that the assertion was issued"
	}
	return app, ""
}

func (g *GitHub) installationJSON(inst *installation) map[string]any {
	g.mu.Lock()
	app := g.apps[inst.appID]
	g.mu.Unlock()
	account := g.ownerJSON(inst.owner)
	return map[string]any{
		"id": inst.id, "app_id": app.ID, "app_slug": app.Slug, "target_id": account["id"], "target_type": account["type"],
		"account": account, "repository_selection": "all", "permissions": app.Permissions, "events": []string{},
		"access_tokens_url": fmt.Sprintf("%s/app/installations/%d/access_tokens", g.APIURL, inst.id),
		"repositories_url":  g.APIURL + "/installation/repositories",
		"html_url":          fmt.Sprintf("%s/settings/installations/%d", g.URL, inst.id),
		"created_at":        inst.created.UTC().Format(time.RFC3339), "updated_at": inst.created.UTC().Format(time.RFC3339),
	}
}

func (g *GitHub) getApp(c *call) {
	g.mu.Lock()
	app := g.apps[c.id.AppID]
	g.mu.Unlock()
	c.json(http.StatusOK, map[string]any{
		"id": app.ID, "slug": app.Slug, "name": app.Slug, "permissions": app.Permissions,
		"html_url": g.URL + "/apps/" + app.Slug, "owner": g.userJSON("automator-bot"),
	})
}

func (g *GitHub) appInstallations(appID int64) []*installation {
	g.mu.Lock()
	defer g.mu.Unlock()
	var out []*installation
	for _, inst := range g.installations {
		if inst.appID == appID {
			out = append(out, inst)
		}
	}
	return out
}

func (g *GitHub) listInstallations(c *call) {
	out := []map[string]any{}
	for _, inst := range g.appInstallations(c.id.AppID) {
		out = append(out, g.installationJSON(inst))
	}
	c.json(http.StatusOK, paginate(c, out))
}

func (g *GitHub) getInstallation(c *call) {
	id, _ := strconv.ParseInt(c.r.PathValue("id"), 10, 64)
	for _, inst := range g.appInstallations(c.id.AppID) {
		if inst.id == id {
			c.json(http.StatusOK, g.installationJSON(inst))
			return
		}
	}
	c.fail(http.StatusNotFound, "Not Found")
}

// findInstallation serves the repository, organization and user installation lookups.
func (g *GitHub) findInstallation(c *call) {
	owner := c.r.PathValue("owner")
	if name := c.r.PathValue("name"); name != "" && g.lookupRepo(owner, name) == nil {
		c.fail(http.StatusNotFound, "Not Found")
		return
	}
	if strings.HasPrefix(c.r.URL.Path, "/orgs/") {
		g.mu.Lock()
		isUser := g.users[strings.ToLower(owner)]
		g.mu.Unlock()
		if isUser {
			c.fail(http.StatusNotFound, "Not Found")
			return
		}
	}
	for _, inst := range g.appInstallations(c.id.AppID) {
		if strings.EqualFold(inst.owner, owner) {
			c.json(http.StatusOK, g.installationJSON(inst))
			return
		}
	}
	c.fail(http.StatusNotFound, "Not Found")
}

// createInstallationToken mints a one-hour installation token, optionally limited to repositories and to a
// subset of the App's permissions.
func (g *GitHub) createInstallationToken(c *call) {
	id, _ := strconv.ParseInt(c.r.PathValue("id"), 10, 64)
	var inst *installation
	for _, i := range g.appInstallations(c.id.AppID) {
		if i.id == id {
			inst = i
		}
	}
	if inst == nil {
		c.fail(http.StatusNotFound, "Not Found")
		return
	}
	var body struct {
		Repositories []string          `json:"repositories"`
		Permissions  map[string]string `json:"permissions"`
	}
	if !c.decode(&body) {
		return
	}
	g.mu.Lock()
	app := g.apps[inst.appID]
	g.mu.Unlock()
	perms := map[string]string{}
	for k, v := range app.Permissions {
		perms[k] = v
	}
	if body.Permissions != nil {
		perms = map[string]string{}
		for k, v := range body.Permissions {
			have := app.Permissions[k]
			if have == "" || (v == "write" && have == "read") {
				c.fail(http.StatusUnprocessableEntity, "The permissions requested are not granted to this installation.")
				return
			}
			perms[k] = v
		}
	}
	selection := "all"
	var limitTo []string
	if len(body.Repositories) > 0 {
		limitTo = body.Repositories
		for _, name := range body.Repositories {
			if g.lookupRepo(inst.owner, name) == nil {
				c.fail(http.StatusUnprocessableEntity, "There is at least one repository that does not exist or is not accessible to the parent installation.")
				return
			}
		}
		selection = "selected"
	}
	token := "ghs_" + randomHex(18)
	expires := time.Now().Add(g.installationTTL).Truncate(time.Second)
	g.mu.Lock()
	g.tokens[token] = &tokenInfo{
		id:      Identity{Kind: IdentityInstallation, Login: app.Slug + "[bot]", AppID: app.ID, InstallationID: inst.id},
		expires: expires, perms: perms, repos: limitTo,
	}
	g.mu.Unlock()
	c.json(http.StatusCreated, map[string]any{
		"token": token, "expires_at": expires.UTC().Format(time.RFC3339), "permissions": perms,
		"repository_selection": selection,
	})
}
