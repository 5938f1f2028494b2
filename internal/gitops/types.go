// Package gitops writes image promotions back into the GitOps manifests
// repository: one commit, or one pull request, per environment.
//
// It reads an environment's files, rewrites them with internal/rewrite, and
// lands the result through the GitHub Git Data API (GitHubWriter: no clone,
// one commit for all files, ref updates that never force a protected branch)
// or through the git CLI (LocalWriter, for non-GitHub remotes and demos).
// Every step is idempotent: rewriting to the current values changes nothing,
// a re-run finds and updates the same pull request, and a concurrent push is
// never lost. Dry runs wrap the write side (DryRun) instead of threading a
// flag through.
package gitops

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/deployment-automator/automator/internal/config"
	"github.com/deployment-automator/automator/internal/rewrite"
)

// Update asks for one service's image to be pinned in an environment. It is
// also the unit of the machine-readable block kept in pull requests, so its
// JSON form is stable.
type Update struct {
	// Service is the service (or watched image) name; at most one update per
	// service is pending in an environment.
	Service string `json:"service"`
	// Repository is the image repository as the manifests name it.
	Repository string `json:"repository"`
	// Tag and Digest are the new values; either may be empty.
	Tag    string `json:"tag,omitempty"`
	Digest string `json:"digest,omitempty"`
	// Scan summarises the gate's verdict for this image and environment.
	Scan *ScanSummary `json:"scan,omitempty"`
	// Source is the app repository commit range the image was built from.
	Source *Source `json:"source,omitempty"`
	// PromotedFrom names the environment the digest was taken from.
	PromotedFrom string `json:"promotedFrom,omitempty"`
	// At is when the update was requested, by the requesting runner's clock:
	// shown to people, never used to order updates (a clock can be wrong).
	At time.Time `json:"at"`
}

// Ref renders the update as REPOSITORY[:TAG][@DIGEST].
func (u Update) Ref() string {
	return rewrite.Update{Repository: u.Repository, Tag: u.Tag, Digest: u.Digest}.String()
}

func (u Update) sameTarget(o Update) bool {
	return u.Service == o.Service && u.Repository == o.Repository && u.Tag == o.Tag && u.Digest == o.Digest
}

// ScanSummary is what reviewers see of the vulnerability gate.
type ScanSummary struct {
	// Verdict is one word: pass, warn, fail or skipped.
	Verdict string `json:"verdict"`
	// Counts holds findings per severity (CRITICAL, HIGH, MEDIUM, LOW, UNKNOWN).
	Counts map[string]int `json:"counts,omitempty"`
	// Blocking lists the findings that failed (or would fail) the gate.
	Blocking []Finding `json:"blocking,omitempty"`
	// Evidence is the image's verified signature and attestations, or why
	// they failed, when the environment verifies evidence.
	Evidence *Evidence `json:"evidence,omitempty"`
}

// Evidence is what reviewers see of an image's signature and attestations
// (cosign's .sig and .att artifacts of its digest).
type Evidence struct {
	// Signature is the digest of the .sig manifest holding the trusted
	// signature.
	Signature string `json:"signature,omitempty"`
	// Attestations are the verified attestations the environment requires.
	Attestations []Attestation `json:"attestations,omitempty"`
	// Problem says why verification failed (unsigned, wrong key, tampered,
	// missing or stale attestation); empty when it passed.
	Problem string `json:"problem,omitempty"`
}

// Attestation is one verified attestation.
type Attestation struct {
	// Type is the short predicate type, e.g. vuln or cyclonedx.
	Type string `json:"type"`
	// Digest is the digest of the .att manifest holding it.
	Digest string `json:"digest"`
	// At is the attested time (scan finished); zero when none.
	At time.Time `json:"at,omitzero"`
}

// Finding is one vulnerability as shown to reviewers.
type Finding struct {
	ID        string `json:"id"`
	Severity  string `json:"severity"`
	Package   string `json:"package,omitempty"`
	Installed string `json:"installed,omitempty"`
	Fixed     string `json:"fixed,omitempty"`
	Title     string `json:"title,omitempty"`
}

// Source is a commit range of the app repository.
type Source struct {
	// Repo is owner/name on the GitHub server of the links.
	Repo string `json:"repo"`
	// From is the previous commit (may be empty), To the built commit.
	From string `json:"from,omitempty"`
	To   string `json:"to"`
}

// Blocked is an image the gate kept out of this environment; it is listed in
// the pull request body and commit message with its blocking findings.
type Blocked struct {
	Service string      `json:"service"`
	Image   string      `json:"image"`
	Scan    ScanSummary `json:"scan"`
}

// Request is the write-back of one environment.
type Request struct {
	Env     config.Environment
	Updates []Update
	Blocked []Blocked
	// Branch overrides the pull request branch (default automator/<env>).
	Branch string
	// Title overrides the pull request title and commit subject.
	Title string
	// Note is a paragraph added at the top of the body (e.g. a rollback's reason).
	Note string
	// RollbackTo names the commit whose image values a rollback restores;
	// it is recorded as the Automator-Rollback-To trailer.
	RollbackTo string
	// Services are the services configured for the environment (service →
	// image repository, see ConfiguredImages). A kustomization images entry
	// is inserted only for an update whose service is listed here and whose
	// image no file of the environment pins; nil inserts nothing.
	Services map[string]string
	// Edits rewrite further files of the repository in the same commit
	// (e.g. the holds file a rollback or `automator hold` writes).
	Edits []FileEdit
	// Held are services automation must not promote in this environment
	// now: their pending updates are not carried over, and the pull request
	// and commit message say why.
	Held []Held
	// Trailers are extra "Key: value" lines appended to the commit message's
	// trailers (e.g. Automator-Hold).
	Trailers []string
	// Freeze is set while the environment is in a freeze window: the pull
	// request is still updated, but labelled FreezeLabel and given a failing
	// FreezeStatus commit status (cleared by the first write-back after the
	// window). Commit-mode environments are never written while frozen (the
	// promoter does not call Apply).
	Freeze *Freeze
}

// FileChange is one rewritten file with its diff and typed change set.
type FileChange struct {
	Path    string
	Diff    string
	Changes []rewrite.Change
	// Skipped lists the image sites of the file an update names but that
	// were left alone, each with its reason.
	Skipped []rewrite.Skip
}

// PullRequest identifies the pull request a write-back opened or updated.
type PullRequest struct {
	Number  int
	URL     string
	Title   string
	Body    string
	Branch  string
	Created bool
	Updated bool
	// Reason says why a superseded pull request was withdrawn.
	Reason string
	// Freeze marks the pull request as in a freeze window (see
	// Request.Freeze).
	Freeze *Freeze
}

// Result reports what a write-back did (or, under DryRun, would do).
type Result struct {
	Env  string
	Repo string
	// Branch is the environment's branch (the base of its pull requests).
	Branch string
	Mode   string
	// Files holds the rewritten files; empty when nothing changed.
	Files []FileChange
	// Updates are the updates the environment now carries (for PRs: all
	// pending ones); Message is the commit message used.
	Updates []Update
	Message string
	// Commit is the new commit (commit mode) or the pull request head.
	Commit    string
	CommitURL string
	PR        *PullRequest
	// Attempts counts tries after non-fast-forward rejections (1 = first try).
	Attempts int
	// Dropped are pending updates of earlier runs that the Verifier refused
	// to carry over (pull-request mode).
	Dropped []Dropped
	// Held are the services the request held back (Request.Held).
	Held []Held
	// Frozen is the freeze window the environment was in (nil: none): a
	// commit-mode environment was not written, a pull request was marked.
	Frozen *Freeze
	// Superseded is automator's open pull request that this run withdrew
	// (closed on GitHub; its branch deleted on a plain git remote) because
	// the environment already runs what was asked and nothing was left to
	// propose: merging it would have deployed images no promotion asks for.
	Superseded *PullRequest
}

// Changed reports whether the write-back created a commit or opened or
// updated a PR (a withdrawn one, Superseded, is not a promotion).
func (r *Result) Changed() bool {
	return r.Commit != "" || (r.PR != nil && (r.PR.Created || r.PR.Updated))
}

// Diff is the unified diff of all files.
func (r *Result) Diff() string {
	var b strings.Builder
	for _, f := range r.Files {
		b.WriteString(f.Diff)
	}
	return b.String()
}

// Image is an image reference found in an environment's files.
type Image struct {
	Service    string
	Repository string
	Tag        string
	Digest     string
	// File and Line locate the value that holds the tag or digest.
	File string
	Line int
}

// Writer lands promotions in an environment and reads what it runs.
type Writer interface {
	// Apply rewrites the environment's files and lands them as one commit or
	// one pull request. Nothing changed → no commit, no PR update.
	Apply(ctx context.Context, req Request) (*Result, error)
	// Current reads the images the environment's files pin, at revision at
	// (a commit; "" = branch head), for the given service → repository map.
	// Services not found in the files are absent from the result.
	Current(ctx context.Context, env config.Environment, at string, images map[string]string) ([]Image, error)
	// Previous returns the commit before the latest commit that changed the
	// environment's files: what a rollback restores by default.
	Previous(ctx context.Context, env config.Environment) (string, error)
	// History reads the repository's files and commits beyond the
	// environment's own files (holds, rollback awareness, soak times).
	History
}

// ErrProtectedBranch is returned when a branch refuses a direct commit.
var ErrProtectedBranch = errors.New("branch is protected and refuses direct commits; use mode: pull-request for this environment")

// ErrConflict is returned when concurrent pushes kept winning the race
// until the retry time (retryFor) ran out; nothing was forced or lost.
var ErrConflict = errors.New("the branch kept moving; gave up when the retry time (retryFor) ran out, without forcing")

func splitRepo(env config.Environment) (owner, name string, err error) {
	owner, name, ok := strings.Cut(env.Repo, "/")
	if !ok || owner == "" || name == "" || strings.Contains(name, "/") {
		return "", "", fmt.Errorf("environment %q: repo %q: want owner/name", env.Name, env.Repo)
	}
	return owner, name, nil
}

// prBranch is the deterministic pull request branch of an environment.
func prBranch(req Request) string {
	if req.Branch != "" {
		return req.Branch
	}
	return "automator/" + req.Env.Name
}
