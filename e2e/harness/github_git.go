package harness

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// repoState is one repository of the fake: a bare git repository plus its pull requests.
type repoState struct {
	id            int64
	owner, name   string
	defaultBranch string
	gitDir        string
	created       time.Time

	// mu serialises ref updates and pull request changes of this repository through the API.
	mu        sync.Mutex
	pulls     []*pullState
	protected map[string]bool
	labels    map[string]int64
	// noDrafts makes the repository refuse draft pull requests, as GitHub does for private repositories on
	// plans without them.
	noDrafts bool
	comments []IssueComment
	statuses map[string][]CommitStatus // commit → statuses, oldest first (github_statuses.go)
}

func (r *repoState) fullName() string { return r.owner + "/" + r.name }

// credentialsRE finds credentials in URLs so they never reach test output.
var credentialsRE = regexp.MustCompile(`://[^/@\s]+@`)

var shaRE = regexp.MustCompile(`^[0-9a-f]{40}$`)

const zeroSHA = "0000000000000000000000000000000000000000"

// CreateRepo creates OWNER/NAME as a bare repository with the given default branch. When seedDir is not
// empty, its files become the first commit of the default branch (fixed author and date, so the same
// directory always gives the same commit). It returns that commit's SHA, or "" for an empty repository.
func (g *GitHub) CreateRepo(owner, name, defaultBranch, seedDir string) string {
	g.t.Helper()
	if defaultBranch == "" {
		defaultBranch = "main"
	}
	if g.lookupRepo(owner, name) != nil {
		g.t.Fatalf("repository %s/%s already exists in the fake", owner, name)
	}
	gitDir := filepath.Join(g.Root, owner, name+".git")
	if _, err := g.gitIn(context.Background(), "", nil, nil, "init", "-q", "--bare", "-b", defaultBranch, gitDir); err != nil {
		g.t.Fatalf("creating repository %s/%s: %v", owner, name, err)
	}
	for _, kv := range [][2]string{{"http.receivepack", "true"}, {"uploadpack.allowAnySHA1InWant", "true"}, {"receive.denyDeleteCurrent", "ignore"}} {
		if _, err := g.gitIn(context.Background(), gitDir, nil, nil, "config", kv[0], kv[1]); err != nil {
			g.t.Fatalf("configuring %s/%s: %v", owner, name, err)
		}
	}
	hook := fmt.Sprintf(`#!/bin/sh
# Rejects pushes to branches the test protected, with GitHub's message.
while read old new ref; do
  if grep -qxF "$ref" %q 2>/dev/null; then
    echo "error: GH006: Protected branch update failed for $ref." >&2
    exit 1
  fi
done
`, filepath.Join(gitDir, "automator-protected-refs"))
	if err := os.WriteFile(filepath.Join(gitDir, "hooks", "pre-receive"), []byte(hook), 0o755); err != nil {
		g.t.Fatalf("writing pre-receive hook: %v", err)
	}
	g.mu.Lock()
	g.nextID++
	repo := &repoState{id: g.nextID, owner: owner, name: name, defaultBranch: defaultBranch, gitDir: gitDir,
		created: time.Now(), protected: map[string]bool{}, labels: map[string]int64{}}
	g.repos[strings.ToLower(owner+"/"+name)] = repo
	g.mu.Unlock()
	if seedDir == "" {
		return ""
	}
	sha, err := g.commitDir(repo, seedDir, "Initial commit")
	if err != nil {
		g.t.Fatalf("seeding %s from %s: %v", repo.fullName(), seedDir, err)
	}
	return sha
}

// commitDir commits the contents of dir on top of the default branch (or as a root commit).
func (g *GitHub) commitDir(repo *repoState, dir, msg string) (string, error) {
	ctx := context.Background()
	idx := filepath.Join(g.tmp, "seed-"+randomHex(6)+".idx")
	defer os.Remove(idx)
	env := []string{"GIT_INDEX_FILE=" + idx, "GIT_WORK_TREE=" + dir}
	if _, err := g.gitIn(ctx, repo.gitDir, nil, env, "add", "-A", "."); err != nil {
		return "", err
	}
	tree, err := g.gitIn(ctx, repo.gitDir, nil, env, "write-tree")
	if err != nil {
		return "", err
	}
	args := []string{"commit-tree", tree}
	head, _ := g.resolveCommit(ctx, repo, "refs/heads/"+repo.defaultBranch)
	if head != "" {
		args = append(args, "-p", head)
	}
	sig := []string{"GIT_AUTHOR_NAME=Harness", "GIT_AUTHOR_EMAIL=harness@example.com", "GIT_AUTHOR_DATE=@1700000000 +0000",
		"GIT_COMMITTER_NAME=Harness", "GIT_COMMITTER_EMAIL=harness@example.com", "GIT_COMMITTER_DATE=@1700000000 +0000"}
	sha, err := g.gitIn(ctx, repo.gitDir, []byte(msg), sig, append(args, "-F", "-")...)
	if err != nil {
		return "", err
	}
	old := head
	if old == "" {
		old = zeroSHA
	}
	if _, err := g.gitIn(ctx, repo.gitDir, nil, nil, "update-ref", "refs/heads/"+repo.defaultBranch, sha, old); err != nil {
		return "", err
	}
	return sha, nil
}

// ProtectBranch marks a branch protected: ref updates and deletes through the API get GitHub's 422 and
// pushes over smart HTTP are rejected with GH006, while MergePull still works (it is the reviewed path).
func (g *GitHub) ProtectBranch(repoName, branch string) {
	g.t.Helper()
	repo := g.mustRepo(repoName)
	repo.mu.Lock()
	defer repo.mu.Unlock()
	repo.protected[branch] = true
	var refs []string
	for b := range repo.protected {
		refs = append(refs, "refs/heads/"+b)
	}
	if err := os.WriteFile(filepath.Join(repo.gitDir, "automator-protected-refs"), []byte(strings.Join(refs, "\n")+"\n"), 0o644); err != nil {
		g.t.Fatalf("protecting %s:%s: %v", repoName, branch, err)
	}
}

// GitDir returns the bare repository directory of OWNER/NAME.
func (g *GitHub) GitDir(repoName string) string { return g.mustRepo(repoName).gitDir }

// CloneURL returns the smart HTTP URL of the repository, without credentials.
func (g *GitHub) CloneURL(repoName string) string { return g.URL + "/" + repoName + ".git" }

// AuthCloneURL returns the smart HTTP URL with x-access-token:TOKEN credentials, as GitHub accepts them.
func (g *GitHub) AuthCloneURL(repoName, token string) string {
	return strings.Replace(g.URL, "http://", "http://x-access-token:"+token+"@", 1) + "/" + repoName + ".git"
}

// RevParse resolves a revision in the fake's repository; ok is false when it does not exist.
func (g *GitHub) RevParse(repoName, rev string) (sha string, ok bool) {
	repo := g.mustRepo(repoName)
	sha, err := g.resolveCommit(context.Background(), repo, rev)
	return sha, err == nil && sha != ""
}

// ReadFile returns a file's content at a revision of the fake's repository; ok is false when absent.
func (g *GitHub) ReadFile(repoName, rev, file string) (content string, ok bool) {
	repo := g.mustRepo(repoName)
	out, err := g.gitRaw(context.Background(), repo.gitDir, nil, nil, "cat-file", "blob", rev+":"+file)
	if err != nil {
		return "", false
	}
	return string(out), true
}

// Log returns the commit SHAs reachable from rev, newest first.
func (g *GitHub) Log(repoName, rev string) []string {
	repo := g.mustRepo(repoName)
	out, err := g.gitIn(context.Background(), repo.gitDir, nil, nil, "rev-list", rev, "--")
	if err != nil {
		return nil
	}
	return strings.Fields(out)
}

// CommitRecord is what the fake knows about a commit created through POST /git/commits.
type CommitRecord struct {
	SHA string
	// Identity is who created the commit.
	Identity Identity
	// CustomAuthor and CustomCommitter report whether the request set author / committer explicitly.
	CustomAuthor, CustomCommitter bool
	// Verified mirrors verification.verified: true for App installation commits without custom author or
	// committer, which GitHub signs.
	Verified bool
}

// Commit returns the record of a commit created through the API; ok is false for commits made otherwise.
func (g *GitHub) Commit(repoName, sha string) (CommitRecord, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	rec, ok := g.commitMeta[strings.ToLower(repoName)+"@"+sha]
	return rec, ok
}

func (g *GitHub) mustRepo(repoName string) *repoState {
	owner, name, _ := strings.Cut(repoName, "/")
	repo := g.lookupRepo(owner, name)
	if repo == nil {
		g.t.Fatalf("fake GitHub has no repository %q", repoName)
	}
	return repo
}

func (g *GitHub) lookupRepo(owner, name string) *repoState {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.repos[strings.ToLower(owner+"/"+name)]
}

// --- git plumbing --------------------------------------------------------------------------------------

// gitRaw runs git with GIT_DIR set (when gitDir is not empty) and a clean, config-free environment.
func (g *GitHub) gitRaw(ctx context.Context, gitDir string, stdin []byte, env []string, args ...string) ([]byte, error) {
	return runGit(ctx, gitDir, g.tmp, stdin, env, args...)
}

func (g *GitHub) gitIn(ctx context.Context, gitDir string, stdin []byte, env []string, args ...string) (string, error) {
	out, err := g.gitRaw(ctx, gitDir, stdin, env, args...)
	return strings.TrimSpace(string(out)), err
}

func runGit(ctx context.Context, gitDir, home string, stdin []byte, env []string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + home, "GIT_CONFIG_NOSYSTEM=1",
		"GIT_TERMINAL_PROMPT=0", "LC_ALL=C"}, env...)
	if gitDir != "" {
		cmd.Env = append(cmd.Env, "GIT_DIR="+gitDir)
	}
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		msg := fmt.Sprintf("git %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
		return stdout.Bytes(), fmt.Errorf("%s", credentialsRE.ReplaceAllString(msg, "://***@"))
	}
	return stdout.Bytes(), nil
}

// objectType returns the type of an object given by full SHA, or "" when it does not exist.
func (g *GitHub) objectType(ctx context.Context, repo *repoState, sha string) string {
	if !shaRE.MatchString(sha) {
		return ""
	}
	typ, err := g.gitIn(ctx, repo.gitDir, nil, nil, "cat-file", "-t", sha)
	if err != nil {
		return ""
	}
	return typ
}

// resolveCommit resolves a branch, tag, full ref or SHA to a commit SHA; "" and an error when unknown.
func (g *GitHub) resolveCommit(ctx context.Context, repo *repoState, rev string) (string, error) {
	if rev == "" || strings.HasPrefix(rev, "-") || strings.Contains(rev, "..") {
		return "", fmt.Errorf("invalid revision %q", rev)
	}
	return g.gitIn(ctx, repo.gitDir, nil, nil, "rev-parse", "--verify", "--quiet", "--end-of-options", rev+"^{commit}")
}

func (g *GitHub) refSHA(ctx context.Context, repo *repoState, ref string) string {
	sha, err := g.gitIn(ctx, repo.gitDir, nil, nil, "rev-parse", "--verify", "--quiet", "--end-of-options", ref)
	if err != nil {
		return ""
	}
	return sha
}

// --- refs ----------------------------------------------------------------------------------------------

func (g *GitHub) refJSON(repo *repoState, ref, sha, typ string) map[string]any {
	base := g.APIURL + "/repos/" + repo.fullName()
	return map[string]any{
		"ref": ref, "node_id": "REF_" + base64.RawStdEncoding.EncodeToString([]byte(ref)), "url": base + "/git/" + ref,
		"object": map[string]any{"sha": sha, "type": typ, "url": base + "/git/" + typ + "s/" + sha},
	}
}

type refEntry struct{ name, sha, typ string }

func (g *GitHub) listRefs(ctx context.Context, repo *repoState, prefix string) ([]refEntry, error) {
	out, err := g.gitIn(ctx, repo.gitDir, nil, nil, "for-each-ref", "--format=%(refname) %(objectname) %(objecttype)", "refs/")
	if err != nil {
		return nil, err
	}
	var refs []refEntry
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) == 3 && strings.HasPrefix(f[0], prefix) {
			refs = append(refs, refEntry{f[0], f[1], f[2]})
		}
	}
	return refs, nil
}

func (g *GitHub) getRef(c *call) {
	ref := "refs/" + c.r.PathValue("ref")
	refs, err := g.listRefs(c.r.Context(), c.repo, ref)
	if err != nil {
		c.fail(http.StatusInternalServerError, err.Error())
		return
	}
	for _, r := range refs {
		if r.name == ref {
			c.json(http.StatusOK, g.refJSON(c.repo, r.name, r.sha, r.typ))
			return
		}
	}
	if g.isEmpty(c) {
		c.fail(http.StatusConflict, "Git Repository is empty.")
		return
	}
	c.fail(http.StatusNotFound, "Not Found")
}

// getRefsLegacy serves GET /git/refs/{ref}: the exact ref as an object, else an array of refs under it.
func (g *GitHub) getRefsLegacy(c *call) {
	ref := "refs/" + c.r.PathValue("ref")
	refs, err := g.listRefs(c.r.Context(), c.repo, ref)
	if err != nil {
		c.fail(http.StatusInternalServerError, err.Error())
		return
	}
	var under []map[string]any
	for _, r := range refs {
		if r.name == ref {
			c.json(http.StatusOK, g.refJSON(c.repo, r.name, r.sha, r.typ))
			return
		}
		if strings.HasPrefix(r.name, strings.TrimSuffix(ref, "/")+"/") {
			under = append(under, g.refJSON(c.repo, r.name, r.sha, r.typ))
		}
	}
	if len(under) == 0 {
		c.fail(http.StatusNotFound, "Not Found")
		return
	}
	c.json(http.StatusOK, paginate(c, under))
}

func (g *GitHub) matchingRefs(c *call) {
	refs, err := g.listRefs(c.r.Context(), c.repo, "refs/"+c.r.PathValue("ref"))
	if err != nil {
		c.fail(http.StatusInternalServerError, err.Error())
		return
	}
	out := []map[string]any{}
	for _, r := range refs {
		out = append(out, g.refJSON(c.repo, r.name, r.sha, r.typ))
	}
	c.json(http.StatusOK, paginate(c, out))
}

func (g *GitHub) isEmpty(c *call) bool {
	refs, err := g.listRefs(c.r.Context(), c.repo, "refs/heads/")
	return err == nil && len(refs) == 0
}

var refNameRE = regexp.MustCompile(`^refs/[^/\s~^:?*\[\\]+(/[^/\s~^:?*\[\\]+)+$`)

func validRefName(ref string) bool {
	return refNameRE.MatchString(ref) && !strings.Contains(ref, "..") && !strings.HasSuffix(ref, ".lock") &&
		!strings.HasSuffix(ref, "/") && !strings.HasSuffix(ref, ".") && !strings.Contains(ref, "@{")
}

// existingObject returns the type of the object a ref should point at, or answers GitHub's 422.
func (g *GitHub) existingObject(c *call, sha string) (string, bool) {
	typ := g.objectType(c.r.Context(), c.repo, sha)
	if typ == "" {
		c.fail(http.StatusUnprocessableEntity, "Object does not exist")
	}
	return typ, typ != ""
}

func (g *GitHub) createRef(c *call) {
	var body struct {
		Ref *string `json:"ref"`
		SHA *string `json:"sha"`
	}
	if !c.decode(&body) {
		return
	}
	switch {
	case body.Ref == nil:
		c.invalid(`"ref" wasn't supplied.`)
		return
	case body.SHA == nil:
		c.invalid(`"sha" wasn't supplied.`)
		return
	case !strings.HasPrefix(*body.Ref, "refs/") || strings.Count(*body.Ref, "/") < 2:
		c.fail(http.StatusUnprocessableEntity, "Reference name must start with 'refs/' and have at least two slashes.")
		return
	case !validRefName(*body.Ref):
		c.fail(http.StatusUnprocessableEntity, *body.Ref+" is not a valid ref name.")
		return
	}
	ctx := c.r.Context()
	typ, ok := g.existingObject(c, *body.SHA)
	if !ok {
		return
	}
	c.repo.mu.Lock()
	defer c.repo.mu.Unlock()
	if _, err := g.gitIn(ctx, c.repo.gitDir, nil, nil, "update-ref", *body.Ref, *body.SHA, zeroSHA); err != nil {
		c.fail(http.StatusUnprocessableEntity, "Reference already exists")
		return
	}
	c.json(http.StatusCreated, g.refJSON(c.repo, *body.Ref, *body.SHA, typ))
}

func (g *GitHub) updateRef(c *call) {
	ref := "refs/" + c.r.PathValue("ref")
	var body struct {
		SHA   *string `json:"sha"`
		Force bool    `json:"force"`
	}
	if !c.decode(&body) {
		return
	}
	if body.SHA == nil {
		c.invalid(`"sha" wasn't supplied.`)
		return
	}
	ctx := c.r.Context()
	typ, ok := g.existingObject(c, *body.SHA)
	if !ok {
		return
	}
	c.repo.mu.Lock()
	defer c.repo.mu.Unlock()
	if branch, ok := strings.CutPrefix(ref, "refs/heads/"); ok && c.repo.protected[branch] {
		c.fail(http.StatusUnprocessableEntity, "Protected branch update failed for "+ref+".")
		return
	}
	// Compare-and-swap against the value we checked, so a concurrent push is never overwritten.
	for attempt := 0; attempt < 5; attempt++ {
		old := g.refSHA(ctx, c.repo, ref)
		if old == "" || !strings.HasPrefix(ref, "refs/") {
			c.fail(http.StatusUnprocessableEntity, "Reference does not exist")
			return
		}
		if !body.Force && old != *body.SHA {
			if typ != "commit" {
				c.fail(http.StatusUnprocessableEntity, "Update is not a fast forward")
				return
			}
			if _, err := g.gitIn(ctx, c.repo.gitDir, nil, nil, "merge-base", "--is-ancestor", old, *body.SHA); err != nil {
				c.fail(http.StatusUnprocessableEntity, "Update is not a fast forward")
				return
			}
		}
		if _, err := g.gitIn(ctx, c.repo.gitDir, nil, nil, "update-ref", ref, *body.SHA, old); err != nil {
			continue // the ref moved under us (a push); re-check against its new value
		}
		c.json(http.StatusOK, g.refJSON(c.repo, ref, *body.SHA, typ))
		return
	}
	c.fail(http.StatusConflict, "Reference update failed")
}

func (g *GitHub) deleteRef(c *call) {
	ref := "refs/" + c.r.PathValue("ref")
	ctx := c.r.Context()
	c.repo.mu.Lock()
	defer c.repo.mu.Unlock()
	if branch, ok := strings.CutPrefix(ref, "refs/heads/"); ok && c.repo.protected[branch] {
		c.fail(http.StatusUnprocessableEntity, "Cannot delete this protected branch")
		return
	}
	old := g.refSHA(ctx, c.repo, ref)
	if old == "" {
		c.fail(http.StatusUnprocessableEntity, "Reference does not exist")
		return
	}
	if _, err := g.gitIn(ctx, c.repo.gitDir, nil, nil, "update-ref", "-d", ref, old); err != nil {
		c.fail(http.StatusUnprocessableEntity, "Reference does not exist")
		return
	}
	c.w.WriteHeader(http.StatusNoContent)
}

func (g *GitHub) getBranch(c *call) {
	branch := c.r.PathValue("branch")
	sha := g.refSHA(c.r.Context(), c.repo, "refs/heads/"+branch)
	if sha == "" {
		c.fail(http.StatusNotFound, "Branch not found")
		return
	}
	c.repo.mu.Lock()
	protected := c.repo.protected[branch]
	c.repo.mu.Unlock()
	c.json(http.StatusOK, map[string]any{
		"name": branch, "protected": protected,
		"commit": map[string]any{"sha": sha, "url": g.APIURL + "/repos/" + c.repo.fullName() + "/commits/" + sha},
	})
}

// --- blobs ---------------------------------------------------------------------------------------------

func (g *GitHub) createBlob(c *call) {
	var body struct {
		Content  *string `json:"content"`
		Encoding string  `json:"encoding"`
	}
	if !c.decode(&body) {
		return
	}
	if body.Content == nil {
		c.invalid(`"content" wasn't supplied.`)
		return
	}
	data := []byte(*body.Content)
	switch body.Encoding {
	case "", "utf-8":
	case "base64":
		dec, err := base64.StdEncoding.DecodeString(strings.ReplaceAll(*body.Content, "\n", ""))
		if err != nil {
			c.invalid("content is not valid Base64")
			return
		}
		data = dec
	default:
		c.invalid(`For 'properties/encoding', "` + body.Encoding + `" is not one of ["utf-8", "base64"].`)
		return
	}
	sha, err := g.gitIn(c.r.Context(), c.repo.gitDir, data, nil, "hash-object", "-w", "--stdin")
	if err != nil {
		c.fail(http.StatusInternalServerError, err.Error())
		return
	}
	c.json(http.StatusCreated, map[string]any{"sha": sha, "url": g.APIURL + "/repos/" + c.repo.fullName() + "/git/blobs/" + sha})
}

func (g *GitHub) getBlob(c *call) {
	sha := c.r.PathValue("sha")
	ctx := c.r.Context()
	if g.objectType(ctx, c.repo, sha) != "blob" {
		c.fail(http.StatusNotFound, "Not Found")
		return
	}
	data, err := g.gitRaw(ctx, c.repo.gitDir, nil, nil, "cat-file", "blob", sha)
	if err != nil {
		c.fail(http.StatusInternalServerError, err.Error())
		return
	}
	c.json(http.StatusOK, map[string]any{
		"sha": sha, "node_id": "B_" + sha, "size": len(data), "encoding": "base64", "content": wrapBase64(data),
		"url": g.APIURL + "/repos/" + c.repo.fullName() + "/git/blobs/" + sha,
	})
}

// wrapBase64 encodes like GitHub's contents and blobs APIs: base64 with a newline every 60 characters.
func wrapBase64(data []byte) string {
	enc := base64.StdEncoding.EncodeToString(data)
	var b strings.Builder
	for len(enc) > 60 {
		b.WriteString(enc[:60])
		b.WriteByte('\n')
		enc = enc[60:]
	}
	b.WriteString(enc)
	b.WriteByte('\n')
	return b.String()
}

// --- trees ---------------------------------------------------------------------------------------------

type treeEntry struct {
	mode, typ, sha, path string
	size                 int64
}

// lsTree lists a tree; recursive lists blobs and commits at every depth plus the trees on the way.
func (g *GitHub) lsTree(ctx context.Context, repo *repoState, treeish string, recursive bool) ([]treeEntry, error) {
	args := []string{"ls-tree", "-z", "-l", "--full-tree"}
	if recursive {
		args = append(args, "-r", "-t")
	}
	out, err := g.gitRaw(ctx, repo.gitDir, nil, nil, append(args, treeish)...)
	if err != nil {
		return nil, err
	}
	var entries []treeEntry
	for _, rec := range strings.Split(string(out), "\x00") {
		meta, p, ok := strings.Cut(rec, "\t")
		if !ok {
			continue
		}
		f := strings.Fields(meta)
		if len(f) != 4 {
			continue
		}
		size, _ := strconv.ParseInt(f[3], 10, 64)
		entries = append(entries, treeEntry{mode: f[0], typ: f[1], sha: f[2], size: size, path: p})
	}
	return entries, nil
}

func (g *GitHub) treeJSON(repo *repoState, sha string, entries []treeEntry) map[string]any {
	base := g.APIURL + "/repos/" + repo.fullName()
	list := []map[string]any{}
	for _, e := range entries {
		m := map[string]any{"path": e.path, "mode": e.mode, "type": e.typ, "sha": e.sha, "url": base + "/git/" + e.typ + "s/" + e.sha}
		if e.typ == "blob" {
			m["size"] = e.size
		}
		if e.typ == "commit" {
			delete(m, "url")
		}
		list = append(list, m)
	}
	return map[string]any{"sha": sha, "url": base + "/git/trees/" + sha, "tree": list, "truncated": false}
}

func (g *GitHub) getTree(c *call) {
	ctx := c.r.Context()
	sha := c.r.PathValue("sha")
	treeSHA := ""
	switch g.objectType(ctx, c.repo, sha) {
	case "tree":
		treeSHA = sha
	case "commit":
		treeSHA, _ = g.gitIn(ctx, c.repo.gitDir, nil, nil, "rev-parse", sha+"^{tree}")
	default:
		// GitHub also accepts a branch or tag name here.
		if commit, err := g.resolveCommit(ctx, c.repo, sha); err == nil {
			treeSHA, _ = g.gitIn(ctx, c.repo.gitDir, nil, nil, "rev-parse", commit+"^{tree}")
		}
	}
	if treeSHA == "" {
		c.fail(http.StatusNotFound, "Not Found")
		return
	}
	rec := c.r.URL.Query().Get("recursive")
	entries, err := g.lsTree(ctx, c.repo, treeSHA, rec != "" && rec != "0" && rec != "false")
	if err != nil {
		c.fail(http.StatusInternalServerError, err.Error())
		return
	}
	c.json(http.StatusOK, g.treeJSON(c.repo, treeSHA, entries))
}

var validModes = map[string]string{"100644": "blob", "100755": "blob", "120000": "blob", "040000": "tree", "160000": "commit"}

func validTreePath(p string) bool {
	if p == "" || strings.HasPrefix(p, "/") || strings.HasSuffix(p, "/") || strings.Contains(p, "\x00") {
		return false
	}
	for _, seg := range strings.Split(p, "/") {
		if seg == "" || seg == "." || seg == ".." || strings.EqualFold(seg, ".git") {
			return false
		}
	}
	return true
}

// createTree implements POST /git/trees with base_tree, nested paths, inline content and null-sha deletes.
// It edits a flat path → entry map built from base_tree and writes it with a temporary index.
func (g *GitHub) createTree(c *call) {
	var body struct {
		BaseTree *string `json:"base_tree"`
		Tree     []struct {
			Path    *string         `json:"path"`
			Mode    *string         `json:"mode"`
			Type    *string         `json:"type"`
			SHA     json.RawMessage `json:"sha"`
			Content *string         `json:"content"`
		} `json:"tree"`
	}
	if !c.decode(&body) {
		return
	}
	if body.Tree == nil {
		c.invalid(`"tree" wasn't supplied.`)
		return
	}
	ctx := c.r.Context()
	files := map[string]treeEntry{} // blobs and gitlinks by full path
	if body.BaseTree != nil {
		if g.objectType(ctx, c.repo, *body.BaseTree) != "tree" {
			c.fail(http.StatusUnprocessableEntity, "base_tree is not a valid tree oid")
			return
		}
		entries, err := g.lsTree(ctx, c.repo, *body.BaseTree, true)
		if err != nil {
			c.fail(http.StatusInternalServerError, err.Error())
			return
		}
		for _, e := range entries {
			if e.typ != "tree" {
				files[e.path] = e
			}
		}
	}
	removeUnder := func(p string) {
		for k := range files {
			if k == p || strings.HasPrefix(k, p+"/") {
				delete(files, k)
			}
		}
	}
	for i, e := range body.Tree {
		field := fmt.Sprintf("tree[%d]", i)
		if e.Path == nil || !validTreePath(*e.Path) {
			c.fail(http.StatusUnprocessableEntity, fmt.Sprintf("tree.path contains a malformed path component (%s)", field))
			return
		}
		if e.Mode == nil || validModes[*e.Mode] == "" {
			c.invalid(fmt.Sprintf("For 'properties/mode', %s.mode is not one of [\"100644\", \"100755\", \"040000\", \"160000\", \"120000\"].", field))
			return
		}
		wantType := validModes[*e.Mode]
		if e.Type != nil && *e.Type != wantType {
			c.fail(http.StatusUnprocessableEntity, fmt.Sprintf("%s.type %q does not match mode %s", field, *e.Type, *e.Mode))
			return
		}
		p := *e.Path
		hasSHA := len(e.SHA) > 0
		isNull := hasSHA && string(bytes.TrimSpace(e.SHA)) == "null"
		switch {
		case hasSHA && e.Content != nil:
			c.fail(http.StatusUnprocessableEntity, "Must supply either tree.sha or tree.content. Request will be rejected if both are present.")
			return
		case isNull:
			removeUnder(p)
			continue
		case e.Content != nil:
			if wantType != "blob" {
				c.fail(http.StatusUnprocessableEntity, field+": content is only allowed for blobs")
				return
			}
			sha, err := g.gitIn(ctx, c.repo.gitDir, []byte(*e.Content), nil, "hash-object", "-w", "--stdin")
			if err != nil {
				c.fail(http.StatusInternalServerError, err.Error())
				return
			}
			removeUnder(p)
			files[p] = treeEntry{mode: *e.Mode, typ: "blob", sha: sha, path: p}
		case hasSHA:
			var sha string
			if err := json.Unmarshal(e.SHA, &sha); err != nil || !shaRE.MatchString(sha) {
				c.invalid(field + ".sha is not a valid SHA")
				return
			}
			if wantType != "commit" && g.objectType(ctx, c.repo, sha) != wantType {
				c.fail(http.StatusUnprocessableEntity, fmt.Sprintf("tree.sha %s is not a valid %s", sha, wantType))
				return
			}
			removeUnder(p)
			if wantType == "tree" {
				sub, err := g.lsTree(ctx, c.repo, sha, true)
				if err != nil {
					c.fail(http.StatusInternalServerError, err.Error())
					return
				}
				for _, s := range sub {
					if s.typ != "tree" {
						s.path = p + "/" + s.path
						files[s.path] = s
					}
				}
				continue
			}
			files[p] = treeEntry{mode: *e.Mode, typ: wantType, sha: sha, path: p}
		default:
			c.fail(http.StatusUnprocessableEntity, "Must supply either tree.sha or tree.content.")
			return
		}
		// A file replaces any file standing where one of its parent directories must be.
		for dir := path.Dir(p); dir != "."; dir = path.Dir(dir) {
			delete(files, dir)
		}
	}
	sha, err := g.writeTree(ctx, c.repo, files)
	if err != nil {
		c.fail(http.StatusInternalServerError, err.Error())
		return
	}
	entries, err := g.lsTree(ctx, c.repo, sha, false)
	if err != nil {
		c.fail(http.StatusInternalServerError, err.Error())
		return
	}
	c.json(http.StatusCreated, g.treeJSON(c.repo, sha, entries))
}

func (g *GitHub) writeTree(ctx context.Context, repo *repoState, files map[string]treeEntry) (string, error) {
	idx := filepath.Join(g.tmp, "tree-"+randomHex(6)+".idx")
	defer os.Remove(idx)
	env := []string{"GIT_INDEX_FILE=" + idx}
	var info bytes.Buffer
	for _, p := range sortedKeys(files) {
		e := files[p]
		fmt.Fprintf(&info, "%s %s\t%s\x00", e.mode, e.sha, p)
	}
	if _, err := g.gitIn(ctx, repo.gitDir, nil, env, "read-tree", "--empty"); err != nil {
		return "", err
	}
	if info.Len() > 0 {
		if _, err := g.gitIn(ctx, repo.gitDir, info.Bytes(), env, "update-index", "-z", "--add", "--index-info"); err != nil {
			return "", err
		}
	}
	return g.gitIn(ctx, repo.gitDir, nil, env, "write-tree")
}

// --- commits -------------------------------------------------------------------------------------------

type gitPerson struct {
	Name  string `json:"name"`
	Email string `json:"email"`
	Date  string `json:"date,omitempty"`
}

type parsedCommit struct {
	sha, tree           string
	parents             []string
	author, committer   gitPerson
	message             string
	signed              bool
	raw                 []byte
	authorT, committerT time.Time
}

func parsePerson(s string) (gitPerson, time.Time) {
	lt, gt := strings.Index(s, "<"), strings.LastIndex(s, ">")
	if lt < 0 || gt < lt {
		return gitPerson{Name: s}, time.Time{}
	}
	p := gitPerson{Name: strings.TrimSpace(s[:lt]), Email: s[lt+1 : gt]}
	f := strings.Fields(s[gt+1:])
	var t time.Time
	if len(f) == 2 {
		unix, _ := strconv.ParseInt(f[0], 10, 64)
		t = time.Unix(unix, 0).UTC()
		p.Date = t.Format(time.RFC3339)
	}
	return p, t
}

func (g *GitHub) readCommit(ctx context.Context, repo *repoState, sha string) (*parsedCommit, error) {
	raw, err := g.gitRaw(ctx, repo.gitDir, nil, nil, "cat-file", "commit", sha)
	if err != nil {
		return nil, err
	}
	pc := &parsedCommit{sha: sha, raw: raw}
	header, msg, _ := strings.Cut(string(raw), "\n\n")
	pc.message = msg
	for _, line := range strings.Split(header, "\n") {
		key, val, _ := strings.Cut(line, " ")
		switch key {
		case "tree":
			pc.tree = val
		case "parent":
			pc.parents = append(pc.parents, val)
		case "author":
			pc.author, pc.authorT = parsePerson(val)
		case "committer":
			pc.committer, pc.committerT = parsePerson(val)
		case "gpgsig":
			pc.signed = true
		}
	}
	return pc, nil
}

func (g *GitHub) gitCommitJSON(repo *repoState, pc *parsedCommit) map[string]any {
	base := g.APIURL + "/repos/" + repo.fullName()
	parents := []map[string]any{}
	for _, p := range pc.parents {
		parents = append(parents, map[string]any{"sha": p, "url": base + "/git/commits/" + p, "html_url": g.URL + "/" + repo.fullName() + "/commit/" + p})
	}
	g.mu.Lock()
	meta, known := g.commitMeta[strings.ToLower(repo.fullName())+"@"+pc.sha]
	g.mu.Unlock()
	verification := map[string]any{"verified": false, "reason": "unsigned", "signature": nil, "payload": nil}
	if known && meta.Verified {
		verification = map[string]any{"verified": true, "reason": "valid", "signature": "-----BEGIN PGP SIGNATURE-----\n(harness)\n-----END PGP SIGNATURE-----\n", "payload": string(pc.raw)}
	}
	return map[string]any{
		"sha": pc.sha, "node_id": "C_" + pc.sha, "url": base + "/git/commits/" + pc.sha,
		"html_url": g.URL + "/" + repo.fullName() + "/commit/" + pc.sha,
		"author":   pc.author, "committer": pc.committer, "message": strings.TrimSuffix(pc.message, "\n"),
		"tree":    map[string]any{"sha": pc.tree, "url": base + "/git/trees/" + pc.tree},
		"parents": parents, "verification": verification,
	}
}

func (g *GitHub) getGitCommit(c *call) {
	sha := c.r.PathValue("sha")
	if g.objectType(c.r.Context(), c.repo, sha) != "commit" {
		c.fail(http.StatusNotFound, "Not Found")
		return
	}
	pc, err := g.readCommit(c.r.Context(), c.repo, sha)
	if err != nil {
		c.fail(http.StatusInternalServerError, err.Error())
		return
	}
	c.json(http.StatusOK, g.gitCommitJSON(c.repo, pc))
}

func gitDate(s string) (string, error) {
	if s == "" {
		return fmt.Sprintf("@%d +0000", time.Now().Unix()), nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("@%d %s", t.Unix(), t.Format("-0700")), nil
}

// createCommit implements POST /git/commits. Without author and committer under App installation auth the
// commit is authored by the App's bot, committed by GitHub and marked verified, as GitHub signs such commits.
func (g *GitHub) createCommit(c *call) {
	var body struct {
		Message   *string    `json:"message"`
		Tree      *string    `json:"tree"`
		Parents   []string   `json:"parents"`
		Author    *gitPerson `json:"author"`
		Committer *gitPerson `json:"committer"`
		Signature *string    `json:"signature"`
	}
	if !c.decode(&body) {
		return
	}
	ctx := c.r.Context()
	switch {
	case body.Message == nil:
		c.invalid(`"message" wasn't supplied.`)
		return
	case body.Tree == nil:
		c.invalid(`"tree" wasn't supplied.`)
		return
	case g.objectType(ctx, c.repo, *body.Tree) != "tree":
		c.fail(http.StatusUnprocessableEntity, "Tree SHA does not exist")
		return
	}
	args := []string{"commit-tree", *body.Tree}
	for _, p := range body.Parents {
		if g.objectType(ctx, c.repo, p) != "commit" {
			c.fail(http.StatusUnprocessableEntity, "Parent SHA does not exist or is not a commit object")
			return
		}
		args = append(args, "-p", p)
	}
	for _, p := range []*gitPerson{body.Author, body.Committer} {
		if p != nil && (p.Name == "" || p.Email == "") {
			c.invalid("author and committer need name and email")
			return
		}
	}
	author, committer := body.Author, body.Committer
	verified := false
	if author == nil {
		switch c.id.Kind {
		case IdentityInstallation:
			author = &gitPerson{Name: c.id.Login, Email: fmt.Sprintf("%d+%s@users.noreply.github.com", c.id.AppID, c.id.Login)}
			if committer == nil {
				committer = &gitPerson{Name: "GitHub", Email: "noreply@github.com"}
				verified = body.Signature == nil
			}
		default:
			author = &gitPerson{Name: c.id.Login, Email: fmt.Sprintf("%d+%s@users.noreply.github.com", idFor(c.id.Login), c.id.Login)}
		}
	}
	if committer == nil {
		committer = author
	}
	env := []string{"GIT_AUTHOR_NAME=" + author.Name, "GIT_AUTHOR_EMAIL=" + author.Email,
		"GIT_COMMITTER_NAME=" + committer.Name, "GIT_COMMITTER_EMAIL=" + committer.Email}
	ad, err := gitDate(author.Date)
	if err != nil {
		c.invalid("author.date is not a valid ISO 8601 timestamp")
		return
	}
	cd, err := gitDate(committer.Date)
	if err != nil {
		c.invalid("committer.date is not a valid ISO 8601 timestamp")
		return
	}
	env = append(env, "GIT_AUTHOR_DATE="+ad, "GIT_COMMITTER_DATE="+cd)
	msg := *body.Message
	if !utf8.ValidString(msg) {
		c.invalid("message is not valid UTF-8")
		return
	}
	sha, err := g.gitIn(ctx, c.repo.gitDir, []byte(msg), env, append(args, "-F", "-")...)
	if err != nil {
		c.fail(http.StatusInternalServerError, err.Error())
		return
	}
	g.mu.Lock()
	g.commitMeta[strings.ToLower(c.repo.fullName())+"@"+sha] = CommitRecord{
		SHA: sha, Identity: c.id, CustomAuthor: body.Author != nil, CustomCommitter: body.Committer != nil, Verified: verified,
	}
	g.mu.Unlock()
	pc, err := g.readCommit(ctx, c.repo, sha)
	if err != nil {
		c.fail(http.StatusInternalServerError, err.Error())
		return
	}
	c.json(http.StatusCreated, g.gitCommitJSON(c.repo, pc))
}

// ResetBranch force-moves branch to sha in the repository's bare git
// directory, as an administrator would; tests use it to replay a flow from
// the same starting point.
func (g *GitHub) ResetBranch(repoName, branch, sha string) {
	g.t.Helper()
	repo := g.mustRepo(repoName)
	repo.mu.Lock()
	defer repo.mu.Unlock()
	out, err := exec.Command("git", "--git-dir", repo.gitDir, "update-ref", "refs/heads/"+branch, sha).CombinedOutput()
	if err != nil {
		g.t.Fatalf("resetting %s %s to %s: %v\n%s", repoName, branch, sha, err, out)
	}
}
