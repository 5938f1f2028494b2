package harness

import (
	"context"
	"net/http"
	"path"
	"strconv"
	"strings"
)

// maxCompareFiles is GitHub's cap on files in compare and commit responses.
const maxCompareFiles = 300

// maxContentSize is the size above which the contents API returns encoding "none" and no content.
const maxContentSize = 1 << 20

func (g *GitHub) contentJSON(repo *repoState, ref string, e treeEntry, withContent []byte) map[string]any {
	base := g.APIURL + "/repos/" + repo.fullName()
	typ := map[string]string{"blob": "file", "tree": "dir", "commit": "submodule"}[e.typ]
	if e.mode == "120000" {
		typ = "symlink"
	}
	self := base + "/contents/" + e.path + "?ref=" + ref
	html := g.URL + "/" + repo.fullName() + "/blob/" + ref + "/" + e.path
	gitURL := base + "/git/" + e.typ + "s/" + e.sha
	m := map[string]any{
		"type": typ, "name": path.Base(e.path), "path": e.path, "sha": e.sha, "size": e.size,
		"url": self, "html_url": html, "git_url": gitURL, "download_url": nil,
		"_links": map[string]any{"self": self, "git": gitURL, "html": html},
	}
	if typ == "file" {
		m["download_url"] = g.URL + "/raw/" + repo.fullName() + "/" + ref + "/" + e.path
	}
	if withContent != nil {
		if len(withContent) > maxContentSize {
			m["encoding"], m["content"] = "none", ""
		} else {
			m["encoding"], m["content"] = "base64", wrapBase64(withContent)
		}
	}
	return m
}

// getContents implements GET /contents/{path}?ref=: a file object with base64 content, or a directory array.
func (g *GitHub) getContents(c *call) {
	ctx := c.r.Context()
	ref := c.r.URL.Query().Get("ref")
	if ref == "" {
		ref = c.repo.defaultBranch
	}
	if g.isEmpty(c) {
		c.fail(http.StatusNotFound, "This repository is empty.")
		return
	}
	commit, err := g.resolveCommit(ctx, c.repo, ref)
	if err != nil || commit == "" {
		c.fail(http.StatusNotFound, "No commit found for the ref "+ref)
		return
	}
	p := strings.Trim(c.r.PathValue("path"), "/")
	entries, err := g.lsTree(ctx, c.repo, commit, false)
	if p != "" {
		entries, err = g.lsPath(ctx, c.repo, commit, p)
	}
	if err != nil {
		c.fail(http.StatusInternalServerError, err.Error())
		return
	}
	if p != "" && len(entries) == 1 && entries[0].path == p && entries[0].typ != "tree" {
		e := entries[0]
		var data []byte
		if e.typ == "blob" {
			data, err = g.gitRaw(ctx, c.repo.gitDir, nil, nil, "cat-file", "blob", e.sha)
			if err != nil {
				c.fail(http.StatusInternalServerError, err.Error())
				return
			}
		}
		if strings.Contains(c.r.Header.Get("Accept"), "application/vnd.github.raw") && e.typ == "blob" {
			c.w.Header().Set("Content-Type", "application/vnd.github.raw")
			c.w.WriteHeader(http.StatusOK)
			_, _ = c.w.Write(data)
			return
		}
		c.json(http.StatusOK, g.contentJSON(c.repo, ref, e, data))
		return
	}
	if p != "" {
		if len(entries) != 1 || entries[0].typ != "tree" {
			c.fail(http.StatusNotFound, "Not Found")
			return
		}
		entries, err = g.lsTree(ctx, c.repo, entries[0].sha, false)
		if err != nil {
			c.fail(http.StatusInternalServerError, err.Error())
			return
		}
		for i := range entries {
			entries[i].path = p + "/" + entries[i].path
		}
	}
	out := []map[string]any{}
	for _, e := range entries {
		out = append(out, g.contentJSON(c.repo, ref, e, nil))
	}
	c.json(http.StatusOK, out)
}

// getRaw serves download_url (/raw/OWNER/REPO/REF/PATH, REF may contain slashes): the file's bytes.
func (g *GitHub) getRaw(c *call) {
	ctx := c.r.Context()
	parts := strings.Split(c.r.PathValue("rest"), "/")
	for i := 1; i < len(parts); i++ {
		ref, p := strings.Join(parts[:i], "/"), strings.Join(parts[i:], "/")
		commit, err := g.resolveCommit(ctx, c.repo, ref)
		if err != nil || commit == "" {
			continue
		}
		entries, err := g.lsPath(ctx, c.repo, commit, p)
		if err != nil || len(entries) != 1 || entries[0].typ != "blob" {
			break
		}
		data, err := g.gitRaw(ctx, c.repo.gitDir, nil, nil, "cat-file", "blob", entries[0].sha)
		if err != nil {
			c.fail(http.StatusInternalServerError, err.Error())
			return
		}
		c.w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		c.w.WriteHeader(http.StatusOK)
		_, _ = c.w.Write(data)
		return
	}
	c.w.WriteHeader(http.StatusNotFound)
	_, _ = c.w.Write([]byte("404: Not Found"))
}

// lsPath returns the single tree entry at p in commit (empty when absent).
func (g *GitHub) lsPath(ctx context.Context, repo *repoState, commit, p string) ([]treeEntry, error) {
	out, err := g.gitRaw(ctx, repo.gitDir, nil, nil, "ls-tree", "-z", "-l", "--full-tree", commit, "--", p)
	if err != nil {
		return nil, err
	}
	var entries []treeEntry
	for _, rec := range strings.Split(string(out), "\x00") {
		meta, name, ok := strings.Cut(rec, "\t")
		f := strings.Fields(meta)
		if !ok || len(f) != 4 || name != p {
			continue
		}
		size, _ := strconv.ParseInt(f[3], 10, 64)
		entries = append(entries, treeEntry{mode: f[0], typ: f[1], sha: f[2], size: size, path: name})
	}
	return entries, nil
}

// fileChange is one entry of a diff between two commits.
type fileChange struct {
	status, filename, previous string
	sha                        string
	additions, deletions       int
}

var diffStatus = map[byte]string{'A': "added", 'M': "modified", 'D': "removed", 'R': "renamed", 'C': "copied", 'T': "changed"}

// diffFiles lists changed files from..to with rename detection; from "" diffs against the empty tree.
func (g *GitHub) diffFiles(ctx context.Context, repo *repoState, from, to string) ([]fileChange, error) {
	args := func(kind string) []string {
		a := []string{"diff-tree", "-r", "-z", "-M", kind}
		if from == "" {
			return append(a, "--root", to)
		}
		return append(a, from, to)
	}
	raw, err := g.gitRaw(ctx, repo.gitDir, nil, nil, args("--raw")...)
	if err != nil {
		return nil, err
	}
	var changes []fileChange
	fields := strings.Split(string(raw), "\x00")
	for i := 0; i < len(fields); i++ {
		meta := fields[i]
		if !strings.HasPrefix(meta, ":") {
			continue
		}
		f := strings.Fields(meta)
		if len(f) < 5 || i+1 >= len(fields) {
			break
		}
		ch := fileChange{status: diffStatus[f[4][0]], sha: f[3]}
		if f[4][0] == 'R' || f[4][0] == 'C' {
			ch.previous, ch.filename = fields[i+1], fields[i+2]
			i += 2
		} else {
			ch.filename = fields[i+1]
			i++
		}
		if ch.status == "removed" {
			ch.sha = f[2]
		}
		changes = append(changes, ch)
	}
	num, err := g.gitRaw(ctx, repo.gitDir, nil, nil, args("--numstat")...)
	if err != nil {
		return nil, err
	}
	counts := map[string][2]int{}
	nf := strings.Split(string(num), "\x00")
	for i := 0; i < len(nf); i++ {
		parts := strings.SplitN(nf[i], "\t", 3)
		if len(parts) != 3 {
			continue
		}
		add, _ := strconv.Atoi(parts[0])
		del, _ := strconv.Atoi(parts[1])
		name := parts[2]
		if name == "" && i+2 < len(nf) { // rename: "\0old\0new"
			name = nf[i+2]
			i += 2
		}
		counts[name] = [2]int{add, del}
	}
	for i := range changes {
		n := counts[changes[i].filename]
		changes[i].additions, changes[i].deletions = n[0], n[1]
	}
	return changes, nil
}

func (g *GitHub) filesJSON(repo *repoState, ref string, changes []fileChange) []map[string]any {
	out := []map[string]any{}
	for i, ch := range changes {
		if i == maxCompareFiles {
			break
		}
		m := map[string]any{
			"sha": ch.sha, "filename": ch.filename, "status": ch.status, "additions": ch.additions,
			"deletions": ch.deletions, "changes": ch.additions + ch.deletions,
			"blob_url":     g.URL + "/" + repo.fullName() + "/blob/" + ref + "/" + ch.filename,
			"raw_url":      g.URL + "/" + repo.fullName() + "/raw/" + ref + "/" + ch.filename,
			"contents_url": g.APIURL + "/repos/" + repo.fullName() + "/contents/" + ch.filename + "?ref=" + ref,
		}
		if ch.previous != "" {
			m["previous_filename"] = ch.previous
		}
		out = append(out, m)
	}
	return out
}

func (g *GitHub) repoCommitJSON(repo *repoState, pc *parsedCommit) map[string]any {
	gc := g.gitCommitJSON(repo, pc)
	inner := map[string]any{
		"author": gc["author"], "committer": gc["committer"], "message": gc["message"], "tree": gc["tree"],
		"url": gc["url"], "comment_count": 0, "verification": gc["verification"],
	}
	return map[string]any{
		"sha": pc.sha, "node_id": gc["node_id"], "commit": inner,
		"url":      g.APIURL + "/repos/" + repo.fullName() + "/commits/" + pc.sha,
		"html_url": gc["html_url"], "parents": gc["parents"],
		"author": g.userJSON(loginOf(pc.author.Email)), "committer": g.userJSON(loginOf(pc.committer.Email)),
	}
}

// loginOf maps a users.noreply.github.com address back to its login, as GitHub links commits to accounts.
func loginOf(email string) string {
	local, domain, _ := strings.Cut(email, "@")
	if domain != "users.noreply.github.com" {
		return ""
	}
	if _, login, ok := strings.Cut(local, "+"); ok {
		return login
	}
	return local
}

// getRepoCommit implements GET /commits/{ref}: the commit with stats and files against its first parent.
func (g *GitHub) getRepoCommit(c *call) {
	ctx := c.r.Context()
	ref := c.r.PathValue("ref")
	sha, err := g.resolveCommit(ctx, c.repo, ref)
	if err != nil || sha == "" {
		c.fail(http.StatusUnprocessableEntity, "No commit found for SHA: "+ref)
		return
	}
	pc, err := g.readCommit(ctx, c.repo, sha)
	if err != nil {
		c.fail(http.StatusInternalServerError, err.Error())
		return
	}
	parent := ""
	if len(pc.parents) > 0 {
		parent = pc.parents[0]
	}
	changes, err := g.diffFiles(ctx, c.repo, parent, sha)
	if err != nil {
		c.fail(http.StatusInternalServerError, err.Error())
		return
	}
	out := g.repoCommitJSON(c.repo, pc)
	add, del := 0, 0
	for _, ch := range changes {
		add, del = add+ch.additions, del+ch.deletions
	}
	out["stats"] = map[string]int{"additions": add, "deletions": del, "total": add + del}
	out["files"] = g.filesJSON(c.repo, sha, changes)
	c.json(http.StatusOK, out)
}

// listCommits implements GET /commits?sha=&path=&per_page=&page=.
func (g *GitHub) listCommits(c *call) {
	ctx := c.r.Context()
	q := c.r.URL.Query()
	if g.isEmpty(c) {
		c.fail(http.StatusConflict, "Git Repository is empty.")
		return
	}
	ref := q.Get("sha")
	if ref == "" {
		ref = c.repo.defaultBranch
	}
	sha, err := g.resolveCommit(ctx, c.repo, ref)
	if err != nil || sha == "" {
		c.fail(http.StatusNotFound, "Not Found")
		return
	}
	args := []string{"rev-list", sha, "--"}
	if p := q.Get("path"); p != "" {
		args = append(args, p)
	}
	out, err := g.gitIn(ctx, c.repo.gitDir, nil, nil, args...)
	if err != nil {
		c.fail(http.StatusInternalServerError, err.Error())
		return
	}
	list := []map[string]any{}
	for _, s := range paginate(c, strings.Fields(out)) {
		pc, err := g.readCommit(ctx, c.repo, s)
		if err != nil {
			c.fail(http.StatusInternalServerError, err.Error())
			return
		}
		list = append(list, g.repoCommitJSON(c.repo, pc))
	}
	c.json(http.StatusOK, list)
}

// compare implements GET /compare/{base}...{head} with merge base, ahead/behind counts, commits and files.
func (g *GitHub) compare(c *call) {
	ctx := c.r.Context()
	baseRef, headRef, ok := strings.Cut(c.r.PathValue("basehead"), "...")
	if !ok {
		c.fail(http.StatusNotFound, "Not Found")
		return
	}
	// Same-repository "owner:ref" forms are accepted; forks are not modelled.
	for _, r := range []*string{&baseRef, &headRef} {
		if owner, ref, found := strings.Cut(*r, ":"); found && strings.EqualFold(owner, c.repo.owner) {
			*r = ref
		}
	}
	base, err1 := g.resolveCommit(ctx, c.repo, baseRef)
	head, err2 := g.resolveCommit(ctx, c.repo, headRef)
	if err1 != nil || err2 != nil || base == "" || head == "" {
		c.fail(http.StatusNotFound, "Not Found")
		return
	}
	mb, err := g.gitIn(ctx, c.repo.gitDir, nil, nil, "merge-base", base, head)
	if err != nil || mb == "" {
		c.fail(http.StatusNotFound, "No common ancestor between "+baseRef+" and "+headRef+".")
		return
	}
	aheadOut, err := g.gitIn(ctx, c.repo.gitDir, nil, nil, "rev-list", "--reverse", mb+".."+head, "--")
	if err != nil {
		c.fail(http.StatusInternalServerError, err.Error())
		return
	}
	behind, err := g.gitIn(ctx, c.repo.gitDir, nil, nil, "rev-list", "--count", head+".."+base, "--")
	if err != nil {
		c.fail(http.StatusInternalServerError, err.Error())
		return
	}
	aheadList := strings.Fields(aheadOut)
	behindBy, _ := strconv.Atoi(behind)
	status := "diverged"
	switch {
	case len(aheadList) == 0 && behindBy == 0:
		status = "identical"
	case behindBy == 0:
		status = "ahead"
	case len(aheadList) == 0:
		status = "behind"
	}
	commits := []map[string]any{}
	for _, s := range paginate(c, aheadList) {
		pc, err := g.readCommit(ctx, c.repo, s)
		if err != nil {
			c.fail(http.StatusInternalServerError, err.Error())
			return
		}
		commits = append(commits, g.repoCommitJSON(c.repo, pc))
	}
	changes, err := g.diffFiles(ctx, c.repo, mb, head)
	if err != nil {
		c.fail(http.StatusInternalServerError, err.Error())
		return
	}
	baseCommit, err := g.readCommit(ctx, c.repo, base)
	if err != nil {
		c.fail(http.StatusInternalServerError, err.Error())
		return
	}
	mbCommit, err := g.readCommit(ctx, c.repo, mb)
	if err != nil {
		c.fail(http.StatusInternalServerError, err.Error())
		return
	}
	full := c.repo.fullName()
	c.json(http.StatusOK, map[string]any{
		"url":               g.APIURL + "/repos/" + full + "/compare/" + baseRef + "..." + headRef,
		"html_url":          g.URL + "/" + full + "/compare/" + baseRef + "..." + headRef,
		"permalink_url":     g.URL + "/" + full + "/compare/" + base[:7] + "..." + head[:7],
		"base_commit":       g.repoCommitJSON(c.repo, baseCommit),
		"merge_base_commit": g.repoCommitJSON(c.repo, mbCommit),
		"status":            status, "ahead_by": len(aheadList), "behind_by": behindBy,
		"total_commits": len(aheadList), "commits": commits, "files": g.filesJSON(c.repo, head, changes),
	})
}
