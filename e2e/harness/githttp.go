package harness

import (
	"net/http"
	"net/http/cgi"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// serveGit serves OWNER/NAME.git over git smart HTTP with git http-backend, authenticated like GitHub:
// basic auth whose password (or username) is a valid token, e.g. x-access-token:<token>. Missing or bad
// credentials get 401 with a Basic challenge, so git asks for (and tests can assert on) credentials.
func (g *GitHub) serveGit(w http.ResponseWriter, r *http.Request, owner, name, rest string) {
	rec := APIRequest{Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Endpoint: "GIT " + gitService(r, rest)}
	defer func() { g.record(rec) }()
	if f := g.faults.take(r.Method, r.URL.Path); f != nil {
		writeFault(w, f, "text/plain")
		rec.Status, rec.Faulted = f.Status, true
		return
	}
	user, pass, _ := r.BasicAuth()
	ti := g.lookupToken(pass)
	if ti == nil && user != "" {
		ti = g.lookupToken(user)
	}
	if ti == nil {
		w.Header().Set("WWW-Authenticate", `Basic realm="GitHub"`)
		http.Error(w, "Invalid username or token. Password authentication is not supported for Git operations.", http.StatusUnauthorized)
		rec.Status = http.StatusUnauthorized
		return
	}
	rec.Identity = ti.id
	repo := g.lookupRepo(owner, name)
	c := &call{g: g, id: ti.id, tok: ti}
	if repo == nil || !c.canSee(repo) {
		http.Error(w, "Repository not found.", http.StatusNotFound)
		rec.Status = http.StatusNotFound
		return
	}
	push := strings.Contains(r.URL.RawQuery, "git-receive-pack") || strings.HasSuffix(rest, "/git-receive-pack")
	if push && ti.id.Kind == IdentityInstallation && !hasPerm(ti.perms, "contents:write") {
		http.Error(w, "Permission to "+repo.fullName()+".git denied to "+ti.id.Login+".", http.StatusForbidden)
		rec.Status = http.StatusForbidden
		return
	}
	gitBin, err := exec.LookPath("git")
	if err != nil {
		http.Error(w, "git not found", http.StatusInternalServerError)
		rec.Status = http.StatusInternalServerError
		return
	}
	rel, err := filepath.Rel(g.Root, repo.gitDir)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		rec.Status = http.StatusInternalServerError
		return
	}
	r2 := r.Clone(r.Context())
	r2.URL.Path = "/" + filepath.ToSlash(rel) + rest
	h := &cgi.Handler{
		Path: gitBin,
		Args: []string{"http-backend"},
		Dir:  g.Root,
		Env: []string{
			"GIT_PROJECT_ROOT=" + g.Root, "GIT_HTTP_EXPORT_ALL=1", "REMOTE_USER=" + ti.id.Login,
			"GIT_CONFIG_NOSYSTEM=1", "HOME=" + g.tmp, "PATH=" + os.Getenv("PATH"),
		},
	}
	sw := &statusRecorder{ResponseWriter: w}
	h.ServeHTTP(sw, r2)
	rec.Status = sw.status
}

// gitService names the smart HTTP step for request logs: "upload-pack" (fetch) or "receive-pack" (push),
// with "advertise" for the ref advertisement.
func gitService(r *http.Request, rest string) string {
	switch {
	case strings.HasSuffix(rest, "/info/refs"):
		return "advertise " + strings.TrimPrefix(r.URL.Query().Get("service"), "git-")
	case strings.HasSuffix(rest, "/git-upload-pack"):
		return "upload-pack"
	case strings.HasSuffix(rest, "/git-receive-pack"):
		return "receive-pack"
	default:
		return "other"
	}
}
