package e2e

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-github/v60/github"

	"github.com/deployment-automator/automator/e2e/harness"
	"github.com/deployment-automator/automator/internal/config"
	ghclient "github.com/deployment-automator/automator/internal/github"
	"github.com/deployment-automator/automator/internal/gitops"
	"github.com/deployment-automator/automator/internal/promote"
)

const manifests = "acme/manifests"

func dg(c byte) string { return "sha256:" + strings.Repeat(string(c), 64) }

const devValues = `# dev: Helm values
cart:
  image:
    repository: ghcr.io/acme/cart
    tag: "1.0.0" # pinned by automator
    digest: ` + "sha256:0000000000000000000000000000000000000000000000000000000000000001" + `
  replicas: 1

checkout:
  image:
    repository: ghcr.io/acme/checkout
    tag: 1.0.0
    digest: sha256:0000000000000000000000000000000000000000000000000000000000000002
`

const prodKustomization = `apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - ../../base

images:
  - name: ghcr.io/acme/cart
    newTag: 1.0.0
    digest: sha256:0000000000000000000000000000000000000000000000000000000000000001
  - name: ghcr.io/acme/checkout
    newTag: 1.0.0
    digest: sha256:0000000000000000000000000000000000000000000000000000000000000002
`

func seed(t testing.TB, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for p, c := range files {
		full := filepath.Join(dir, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

var (
	devEnv     = config.Environment{Name: "dev", Repo: manifests, Files: []string{"envs/dev/*.yaml"}, Mode: "commit"}
	stagingEnv = config.Environment{Name: "staging", Repo: manifests, Files: []string{"envs/staging/values.yaml"}, Mode: "pull-request",
		PullRequest: config.PullRequest{Labels: []string{"promotion"}, Reviewers: []string{"alice"}, TeamReviewers: []string{"platform"}, Assignees: []string{"alice"}}}
	prodEnv = config.Environment{Name: "prod", Repo: manifests, Files: []string{"envs/prod/kustomization.yaml"}, Mode: "pull-request", PromoteFrom: "staging"}
	images  = map[string]string{"cart": "ghcr.io/acme/cart", "checkout": "ghcr.io/acme/checkout"}
)

type world struct {
	g       *harness.GitHub
	app     *harness.App
	minted  []string
	mintMu  sync.Mutex
	initial string
	verify  digestVerifier
}

// digestVerifier stands in for the promotion layer's Verifier: every
// digest is in the registry and passed the gate, except those in gone.
type digestVerifier struct {
	mu   sync.Mutex
	gone map[string]bool
	seen []string
}

func (v *digestVerifier) Verify(_ context.Context, env config.Environment, u gitops.Update) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.seen = append(v.seen, env.Name+" "+u.Service+" "+u.Digest)
	if v.gone[u.Digest] {
		return errors.New("manifest unknown: " + u.Digest + " is not in the registry")
	}
	return nil
}

func (v *digestVerifier) remove(d string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.gone == nil {
		v.gone = map[string]bool{}
	}
	v.gone[d] = true
}

func newWorld(t *testing.T) *world {
	t.Helper()
	g := harness.StartGitHub(t)
	w := &world{g: g}
	w.initial = g.CreateRepo("acme", "manifests", "main", seed(t, map[string]string{
		"envs/dev/values.yaml":            devValues,
		"envs/dev/worker-values.yaml":     strings.ReplaceAll(devValues, "# dev: Helm values", "# dev worker"),
		"envs/dev/extra/values.yaml":      strings.ReplaceAll(devValues, "# dev: Helm values", "# not matched by the glob"),
		"envs/staging/values.yaml":        strings.ReplaceAll(devValues, "# dev:", "# staging:"),
		"envs/prod/kustomization.yaml":    prodKustomization,
		"envs/multi/a/values.yaml":        devValues,
		"envs/multi/b/values.yaml":        devValues,
		"envs/multi/c/kustomization.yaml": prodKustomization,
	}))
	g.AddUser("alice")
	g.AddTeam("acme", "platform")
	w.app = g.RegisterApp("automator", nil)
	g.InstallApp(w.app, "acme")
	g.ResetRequests()
	return w
}

func (w *world) writer(t *testing.T, extra ...ghclient.Option) gitops.Writer {
	t.Helper()
	return w.writerWith(t, nil, extra...)
}

// writerWith is writer with more writer options.
func (w *world) writerWith(t *testing.T, opts []gitops.Option, extra ...ghclient.Option) gitops.Writer {
	t.Helper()
	src := w.source(t, extra...)
	wr, err := gitops.NewGitHubWriter(src, append([]gitops.Option{gitops.WithServerURL(w.g.URL), gitops.WithVerifier(&w.verify)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return wr
}

func (w *world) source(t *testing.T, extra ...ghclient.Option) gitops.ClientSource {
	t.Helper()
	opts := append([]ghclient.Option{
		ghclient.WithApp(w.app.ID, w.app.PrivateKeyPEM, 0), ghclient.WithAPIURL(w.g.APIURL),
		ghclient.WithRetryPolicy(ghclient.RetryPolicy{MaxAttempts: 3, BaseDelay: 5 * time.Millisecond, MaxDelay: 2 * time.Second}),
		ghclient.WithTokenObserver(func(s string) { w.mintMu.Lock(); w.minted = append(w.minted, s); w.mintMu.Unlock() }),
	}, extra...)
	f, err := ghclient.New(opts...)
	if err != nil {
		t.Fatal(err)
	}
	return func(ctx context.Context, owner, repo string) (gitops.API, error) {
		c, err := f.Client(ctx, owner, repo)
		if err != nil {
			return gitops.API{}, err
		}
		return gitops.NewAPI(c), nil
	}
}

func (w *world) file(t *testing.T, rev, path string) string {
	t.Helper()
	s, ok := w.g.ReadFile(manifests, rev, path)
	if !ok {
		t.Fatalf("%s missing at %s", path, rev)
	}
	return s
}

func upd(service, tag string, d byte) gitops.Update {
	return gitops.Update{Service: service, Repository: images[service], Tag: tag, Digest: dg(d),
		Scan:   &gitops.ScanSummary{Verdict: "pass", Counts: map[string]int{"HIGH": 1, "LOW": 3}},
		Source: &gitops.Source{Repo: "acme/app", From: strings.Repeat("1", 40), To: strings.Repeat("2", 40)}}
}

// devExpected is devValues with cart moved to tag/digest.
func devExpected(base, tag string, d byte) string {
	s := strings.Replace(base, `tag: "1.0.0" # pinned by automator`, `tag: "`+tag+`" # pinned by automator`, 1)
	return strings.Replace(s, "digest: sha256:0000000000000000000000000000000000000000000000000000000000000001", "digest: "+dg(d), 1)
}

func TestWriteBackEnvironments(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	wr := w.writer(t)

	// dev: one direct commit for both files matched by the glob.
	res, err := wr.Apply(ctx, gitops.Request{Env: devEnv, Updates: []gitops.Update{upd("cart", "1.1.0", 'a')}})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Files) != 2 || res.Commit == "" {
		t.Fatalf("dev result: %d files, commit %q", len(res.Files), res.Commit)
	}
	head, _ := w.g.RevParse(manifests, "main")
	if head != res.Commit {
		t.Fatalf("main at %s, want the new commit %s", head, res.Commit)
	}
	if got, want := w.file(t, "main", "envs/dev/values.yaml"), devExpected(devValues, "1.1.0", 'a'); got != want {
		t.Errorf("dev values:\n%s\nwant:\n%s", got, want)
	}
	if got := w.file(t, "main", "envs/dev/extra/values.yaml"); got != strings.ReplaceAll(devValues, "# dev: Helm values", "# not matched by the glob") {
		t.Errorf("a file outside the glob changed:\n%s", got)
	}
	if log := w.g.Log(manifests, "main"); len(log) != 2 {
		t.Errorf("main has %d commits, want 2 (one for all files)", len(log))
	}
	rec, ok := w.g.Commit(manifests, res.Commit)
	if !ok || rec.CustomAuthor || rec.CustomCommitter || !rec.Verified || rec.Identity.Kind != harness.IdentityInstallation {
		t.Errorf("dev commit record %+v: want an installation commit without custom author, verified", rec)
	}
	for _, trailer := range []string{"Automator-Service: cart", "Automator-Digest: " + dg('a'), "Automator-Source: " + w.g.URL + "/acme/app/compare/"} {
		if !strings.Contains(res.Message, trailer) {
			t.Errorf("commit message lacks %q:\n%s", trailer, res.Message)
		}
	}
	if len(w.minted) == 0 {
		t.Error("the token observer saw no installation token")
	}

	// dev again: nothing new, no commit.
	res, err = wr.Apply(ctx, gitops.Request{Env: devEnv, Updates: []gitops.Update{upd("cart", "1.1.0", 'a')}})
	if err != nil || res.Changed() {
		t.Fatalf("dev re-run: changed=%v err=%v", res != nil && res.Changed(), err)
	}

	// staging: a pull request on automator/staging.
	res, err = wr.Apply(ctx, gitops.Request{Env: stagingEnv, Updates: []gitops.Update{upd("cart", "1.1.0", 'a')},
		Blocked: []gitops.Blocked{{Service: "payments", Image: "ghcr.io/acme/payments@" + dg('f'),
			Scan: gitops.ScanSummary{Verdict: "fail", Counts: map[string]int{"CRITICAL": 1}, Blocking: []gitops.Finding{{ID: "CVE-2024-0001", Severity: "CRITICAL", Package: "openssl", Installed: "3.0.1", Fixed: "3.0.2"}}}}}})
	if err != nil {
		t.Fatal(err)
	}
	if res.PR == nil || !res.PR.Created {
		t.Fatalf("staging: want a new PR, got %+v", res.PR)
	}
	prs := w.g.PullRequests(manifests)
	if len(prs) != 1 || prs[0].Head != "automator/staging" || prs[0].Base != "main" {
		t.Fatalf("pull requests: %+v", prs)
	}
	pr := prs[0]
	for _, s := range []string{"| **cart** | `1.0.0` → `1.1.0` |", "CVE-2024-0001", "<!-- automator:pending", w.g.URL + "/acme/app/compare/"} {
		if !strings.Contains(pr.Body, s) {
			t.Errorf("PR body lacks %q:\n%s", s, pr.Body)
		}
	}
	if strings.Join(pr.Labels, ",") != "promotion" || strings.Join(pr.Reviewers, ",") != "alice" || strings.Join(pr.TeamReviewers, ",") != "platform" || strings.Join(pr.Assignees, ",") != "alice" {
		t.Errorf("PR decorations: %+v", pr)
	}
	stagingWant := devExpected(strings.ReplaceAll(devValues, "# dev:", "# staging:"), "1.1.0", 'a')
	if got := w.file(t, "automator/staging", "envs/staging/values.yaml"); got != stagingWant {
		t.Errorf("staging branch:\n%s\nwant:\n%s", got, stagingWant)
	}

	// Re-run with nothing new: no commit, no PR, no update.
	branchHead, _ := w.g.RevParse(manifests, "automator/staging")
	w.g.ResetRequests()
	res, err = wr.Apply(ctx, gitops.Request{Env: stagingEnv, Updates: []gitops.Update{upd("cart", "1.1.0", 'a')},
		Blocked: []gitops.Blocked{{Service: "payments", Image: "ghcr.io/acme/payments@" + dg('f'),
			Scan: gitops.ScanSummary{Verdict: "fail", Counts: map[string]int{"CRITICAL": 1}, Blocking: []gitops.Finding{{ID: "CVE-2024-0001", Severity: "CRITICAL", Package: "openssl", Installed: "3.0.1", Fixed: "3.0.2"}}}}}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Changed() {
		t.Errorf("re-run changed something: %+v", res.PR)
	}
	if n := len(w.g.Writes()); n != 0 {
		t.Errorf("re-run made %d write requests: %+v", n, w.g.Writes())
	}
	if now, _ := w.g.RevParse(manifests, "automator/staging"); now != branchHead {
		t.Error("re-run moved the PR branch")
	}

	// Re-run with one more service: the same PR carries both.
	res, err = wr.Apply(ctx, gitops.Request{Env: stagingEnv, Updates: []gitops.Update{upd("checkout", "2.0.0", 'b')}})
	if err != nil {
		t.Fatal(err)
	}
	prs = w.g.PullRequests(manifests)
	if len(prs) != 1 || !res.PR.Updated || res.PR.Number != prs[0].Number {
		t.Fatalf("want the same PR updated, got %d PRs, result %+v", len(prs), res.PR)
	}
	if !strings.Contains(prs[0].Body, "**cart**") || !strings.Contains(prs[0].Body, "**checkout**") {
		t.Errorf("PR body does not carry both services:\n%s", prs[0].Body)
	}
	staged := w.file(t, "automator/staging", "envs/staging/values.yaml")
	if !strings.Contains(staged, "digest: "+dg('a')) || !strings.Contains(staged, "tag: 2.0.0") || !strings.Contains(staged, "digest: "+dg('b')) {
		t.Errorf("staging branch does not carry both:\n%s", staged)
	}

	// Merge staging, then promote prod from what staging runs now.
	w.g.MergePull(manifests, prs[0].Number)
	p := &promote.Promoter{Writer: wr, Images: images}
	res, err = p.Promote(ctx, &promote.Target{Env: prodEnv, From: &promote.Target{Env: stagingEnv}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.PR == nil || !res.PR.Created {
		t.Fatalf("prod: want a PR, got %+v", res.PR)
	}
	prodWant := strings.NewReplacer(
		"newTag: 1.0.0\n    digest: sha256:0000000000000000000000000000000000000000000000000000000000000001", "newTag: 1.1.0\n    digest: "+dg('a'),
		"newTag: 1.0.0\n    digest: sha256:0000000000000000000000000000000000000000000000000000000000000002", "newTag: 2.0.0\n    digest: "+dg('b'),
	).Replace(prodKustomization)
	if got := w.file(t, "automator/prod", "envs/prod/kustomization.yaml"); got != prodWant {
		t.Errorf("prod branch:\n%s\nwant:\n%s", got, prodWant)
	}

	// Rollback dev to before the promotion.
	res, err = p.Rollback(ctx, &promote.Target{Env: devEnv}, "", "", "")
	if err != nil {
		t.Fatal(err)
	}
	if res.PR == nil || res.PR.Branch != "automator/rollback-dev" {
		t.Errorf("rollback result names no pull request on automator/rollback-dev: %+v", res.PR)
	}
	if got := w.file(t, "automator/rollback-dev", "envs/dev/values.yaml"); got != devValues {
		t.Errorf("rollback branch:\n%s\nwant the original:\n%s", got, devValues)
	}
}

func TestWriteBackAppKeyErrors(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	other := w.g.RegisterApp("other", nil) // a valid key of another App
	tests := []struct {
		name string
		opts []ghclient.Option
	}{
		{"wrong key", []ghclient.Option{ghclient.WithApp(w.app.ID, other.PrivateKeyPEM, 0)}},
		{"expired JWT", []ghclient.Option{ghclient.WithClock(func() time.Time { return time.Now().Add(-time.Hour) })}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wr := w.writer(t, tt.opts...)
			_, err := wr.Apply(ctx, gitops.Request{Env: devEnv, Updates: []gitops.Update{upd("cart", "1.1.0", 'a')}})
			var ae *ghclient.AppAuthError
			if !errors.As(err, &ae) || !strings.Contains(err.Error(), "rejected the App JWT") {
				t.Fatalf("err = %v, want a clear AppAuthError", err)
			}
			if head, _ := w.g.RevParse(manifests, "main"); head != w.initial {
				t.Error("main moved")
			}
		})
	}
}

func TestWriteBackProtectedBranch(t *testing.T) {
	w := newWorld(t)
	w.g.ProtectBranch(manifests, "main")
	_, err := w.writer(t).Apply(context.Background(), gitops.Request{Env: devEnv, Updates: []gitops.Update{upd("cart", "1.1.0", 'a')}})
	if !errors.Is(err, gitops.ErrProtectedBranch) || !strings.Contains(err.Error(), "mode: pull-request") {
		t.Fatalf("err = %v, want ErrProtectedBranch suggesting mode: pull-request", err)
	}
}

func TestWriteBackConcurrent(t *testing.T) {
	for _, env := range []config.Environment{devEnv, stagingEnv} {
		t.Run(env.Mode, func(t *testing.T) {
			w := newWorld(t)
			ctx := context.Background()
			wrs := []gitops.Writer{w.writer(t), w.writer(t)} // two independent clients, like two processes
			reqs := []gitops.Update{upd("cart", "1.1.0", 'a'), upd("checkout", "2.0.0", 'b')}
			var wg sync.WaitGroup
			errs := make([]error, 2)
			start := make(chan struct{})
			for i := range wrs {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					_, errs[i] = wrs[i].Apply(ctx, gitops.Request{Env: env, Updates: []gitops.Update{reqs[i]}})
				}()
			}
			close(start)
			wg.Wait()
			for _, err := range errs {
				if err != nil {
					t.Fatal(err)
				}
			}
			ref, path := "main", "envs/dev/values.yaml"
			if env.Mode != "commit" {
				ref, path = "automator/staging", "envs/staging/values.yaml"
				if prs := w.g.PullRequests(manifests); len(prs) != 1 {
					t.Fatalf("%d pull requests, want 1", len(prs))
				} else if !strings.Contains(prs[0].Body, "**cart**") || !strings.Contains(prs[0].Body, "**checkout**") {
					t.Errorf("PR body lost an update:\n%s", prs[0].Body)
				}
			}
			got := w.file(t, ref, path)
			if !strings.Contains(got, "digest: "+dg('a')) || !strings.Contains(got, "digest: "+dg('b')) {
				t.Errorf("an update was lost:\n%s", got)
			}
		})
	}
}

var multiEnv = config.Environment{Name: "multi", Repo: manifests, Files: []string{"envs/multi/**/*.yaml"}, Mode: "commit"}

// TestWriteBackFaults injects a 502 at each API call of a three-file commit
// in turn, once (retried) and persistently (fails): the branch holds either
// the old or the complete new state.
func TestWriteBackFaults(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	if _, err := w.writer(t).Apply(ctx, gitops.Request{Env: multiEnv, Updates: []gitops.Update{upd("cart", "1.1.0", 'a')}}); err != nil {
		t.Fatal(err)
	}
	var calls []string
	for _, r := range w.g.Requests() {
		if r.Endpoint != "" && !strings.HasPrefix(r.Endpoint, "GIT") {
			calls = append(calls, r.Method+" "+r.Path)
		}
	}
	t.Logf("API calls for one environment with three changed files: %d: %v", len(calls), calls)
	if len(calls) > 12 {
		t.Errorf("%d API calls, want at most 12", len(calls))
	}
	for i := range calls {
		for _, times := range []int{1, 10} {
			w := newWorld(t)
			w.g.InjectFault(t, harness.Fault{Skip: i, Times: times, Status: 502, Body: `{"message":"Bad Gateway"}`})
			_, err := w.writer(t).Apply(ctx, gitops.Request{Env: multiEnv, Updates: []gitops.Update{upd("cart", "1.1.0", 'a')}})
			head, _ := w.g.RevParse(manifests, "main")
			switch {
			case times == 1 && err != nil:
				t.Errorf("one 502 at call %d (%s): not retried: %v", i, calls[i], err)
			case times > 1 && err == nil && head == w.initial:
				t.Errorf("persistent 502 at call %d (%s): no error and no commit", i, calls[i])
			}
			if head != w.initial {
				for _, f := range []string{"envs/multi/a/values.yaml", "envs/multi/b/values.yaml"} {
					if got := w.file(t, "main", f); got != devExpected(devValues, "1.1.0", 'a') {
						t.Errorf("fault at call %d: %s partially changed:\n%s", i, f, got)
					}
				}
				if got := w.file(t, "main", "envs/multi/c/kustomization.yaml"); !strings.Contains(got, dg('a')) {
					t.Errorf("fault at call %d: kustomization not changed with the others", i)
				}
			}
		}
	}
}

// TestWriteBackPullRequestRefusals: GitHub's 422 on opening a pull request
// is a lost race only when it says the pull request already exists; any
// other refusal fails at once with GitHub's message, after one request.
func TestWriteBackPullRequestRefusals(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name  string
		setup func(w *world) config.Environment
		want  string
	}{
		{"drafts not supported", func(w *world) config.Environment {
			w.g.DisableDraftPulls(manifests)
			env := stagingEnv
			env.PullRequest.Draft = true
			return env
		}, "Draft pull requests are not supported in this repository."},
		{"invalid base", func(w *world) config.Environment {
			w.g.InjectFault(t, harness.Fault{Method: "POST", Path: `/pulls$`, Status: 422, Times: 10,
				Body: `{"message":"Validation Failed","errors":[{"resource":"PullRequest","field":"base","code":"invalid"}],"documentation_url":"https://docs.github.com/rest/pulls/pulls#create-a-pull-request"}`})
			return stagingEnv
		}, "base invalid"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t)
			env := tt.setup(w)
			_, err := w.writer(t).Apply(ctx, gitops.Request{Env: env, Updates: []gitops.Update{upd("cart", "1.1.0", 'a')}})
			if err == nil || errors.Is(err, gitops.ErrConflict) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want GitHub's message %q at once", err, tt.want)
			}
			if n := w.g.Calls("POST /repos/{owner}/{repo}/pulls"); n != 1 {
				t.Errorf("%d pull request creations, want 1 (a refusal is not a race)", n)
			}
		})
	}
}

// TestWriteBackReappliesDecorations: labels and review requests that failed
// when the pull request was opened are applied by a later run, even one that
// changes nothing else.
func TestWriteBackReappliesDecorations(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	w.g.InjectFault(t, harness.Fault{Method: "POST", Path: `/issues/\d+/labels$`, Status: 422,
		Body: `{"message":"Validation Failed","errors":[{"resource":"Label","code":"invalid","field":"name"}]}`})
	w.g.InjectFault(t, harness.Fault{Method: "POST", Path: `/requested_reviewers$`, Status: 422,
		Body: `{"message":"Validation Failed","errors":[{"resource":"PullRequest","code":"custom","field":"requested_reviewers","message":"Reviews may only be requested from collaborators."}]}`})
	wr := w.writer(t)
	req := gitops.Request{Env: stagingEnv, Updates: []gitops.Update{upd("cart", "1.1.0", 'a')}}
	if _, err := wr.Apply(ctx, req); err == nil {
		t.Fatal("labelling failed, yet no error")
	}
	if prs := w.g.PullRequests(manifests); len(prs) != 1 || len(prs[0].Labels) != 0 {
		t.Fatalf("want the pull request open without its label: %+v", prs)
	}
	if _, err := wr.Apply(ctx, req); err == nil || !strings.Contains(err.Error(), "Reviews may only be requested from collaborators") {
		t.Fatalf("second run: err = %v, want GitHub's message on the review request", err)
	}
	if _, err := wr.Apply(ctx, req); err != nil {
		t.Fatal(err)
	}
	pr := w.g.PullRequests(manifests)[0]
	if strings.Join(pr.Labels, ",") != "promotion" || strings.Join(pr.Reviewers, ",") != "alice" || strings.Join(pr.TeamReviewers, ",") != "platform" || strings.Join(pr.Assignees, ",") != "alice" {
		t.Errorf("decorations not re-applied: %+v", pr)
	}
	w.g.ResetRequests()
	if _, err := wr.Apply(ctx, req); err != nil {
		t.Fatal(err)
	}
	if n := len(w.g.Writes()); n != 0 {
		t.Errorf("a run with everything in place made %d writes: %+v", n, w.g.Writes())
	}
}

// forgedBlock is a pending block as anyone could type it: checkout at the
// digest e, dated 2099 (which "newest wins" would have preferred forever).
var forgedBlock = "<!-- automator:pending\n" + `{"version":1,"env":"staging","updates":[{"service":"checkout","repository":"ghcr.io/acme/checkout","tag":"6.6.6","digest":"` + dg('e') + `","scan":{"verdict":"pass"},"at":"2099-01-01T00:00:00Z"}]}` + "\n-->"

// TestWriteBackPendingStateCannotBeForged: pending updates are carried over
// only from commits automator made, each re-verified, and ordered by arrival
// at the branch, never by a client's clock.
func TestWriteBackPendingStateCannotBeForged(t *testing.T) {
	ctx := context.Background()
	stagingFile := "envs/staging/values.yaml"

	t.Run("an entry dated 2099 in the PR body is ignored", func(t *testing.T) {
		w := newWorld(t)
		wr := w.writer(t)
		if _, err := wr.Apply(ctx, gitops.Request{Env: stagingEnv, Updates: []gitops.Update{upd("cart", "1.1.0", 'a')}}); err != nil {
			t.Fatal(err)
		}
		w.g.AddToken("alice-token", "alice")
		pr := w.g.PullRequests(manifests)[0]
		if _, _, err := w.g.Client("alice-token").PullRequests.Edit(ctx, "acme", "manifests", pr.Number, &github.PullRequest{Body: github.String(pr.Body[:strings.Index(pr.Body, "<!-- automator:pending")] + forgedBlock)}); err != nil {
			t.Fatal(err)
		}
		if _, err := wr.Apply(ctx, gitops.Request{Env: stagingEnv, Updates: []gitops.Update{upd("cart", "1.2.0", 'c')}}); err != nil {
			t.Fatal(err)
		}
		got := w.file(t, "automator/staging", stagingFile)
		if strings.Contains(got, dg('e')) || !strings.Contains(got, dg('c')) {
			t.Errorf("the branch carries the forged entry (or lost cart):\n%s", got)
		}
		if body := w.g.PullRequests(manifests)[0].Body; strings.Contains(body, dg('e')) {
			t.Errorf("the PR body re-states the forged entry:\n%s", body)
		}
	})

	t.Run("an entry dated 2099 in a commit automator did not make is ignored, and the commit is kept", func(t *testing.T) {
		w := newWorld(t)
		wr := w.writer(t)
		if _, err := wr.Apply(ctx, gitops.Request{Env: stagingEnv, Updates: []gitops.Update{upd("cart", "1.1.0", 'a')}}); err != nil {
			t.Fatal(err)
		}
		// A reviewer pushes a commit that looks like automator's: checkout
		// moved to e in the file and in a pending block.
		c := harness.Clone(t, w.g.AuthCloneURL(manifests, w.g.Token), harness.CloneBranch("automator/staging"))
		c.WriteFile(stagingFile, strings.Replace(c.ReadFile(stagingFile), "digest: sha256:0000000000000000000000000000000000000000000000000000000000000002", "digest: "+dg('e'), 1))
		human := c.Commit("Promote cart, checkout to staging\n\n" + forgedBlock)
		c.Git("push", "-q", "origin", "HEAD:automator/staging")
		for run := range 2 {
			_, err := wr.Apply(ctx, gitops.Request{Env: stagingEnv, Updates: []gitops.Update{upd("cart", "1.2.0", 'c')}})
			var fe *gitops.ForeignCommitError
			if !errors.As(err, &fe) || fe.Commit != human || fe.PR == 0 {
				t.Fatalf("run %d: err = %v, want a ForeignCommitError naming %s and the PR", run, err, human)
			}
			if head, _ := w.g.RevParse(manifests, "automator/staging"); head != human {
				t.Fatalf("run %d: the reviewer's commit %s was written over (head %s)", run, human, head)
			}
		}
		cs := w.g.Comments(manifests, w.g.PullRequests(manifests)[0].Number)
		if len(cs) != 1 || !strings.Contains(cs[0].Body, "stopped updating this pull request") || !strings.Contains(cs[0].Body, human) {
			t.Errorf("want one comment explaining why, got %+v", cs)
		}
	})

	t.Run("a runner whose clock is ahead cannot win", func(t *testing.T) {
		w := newWorld(t)
		ahead := w.writerWith(t, []gitops.Option{gitops.WithClock(func() time.Time { return time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC) })})
		if _, err := ahead.Apply(ctx, gitops.Request{Env: stagingEnv, Updates: []gitops.Update{upd("cart", "1.1.0", 'a')}}); err != nil {
			t.Fatal(err)
		}
		if _, err := w.writer(t).Apply(ctx, gitops.Request{Env: stagingEnv, Updates: []gitops.Update{upd("cart", "1.2.0", 'c')}}); err != nil {
			t.Fatal(err)
		}
		if got := w.file(t, "automator/staging", stagingFile); !strings.Contains(got, dg('c')) {
			t.Errorf("the later promotion lost to a runner dated 2099:\n%s", got)
		}
	})

	t.Run("a carried update that no longer verifies is dropped and named", func(t *testing.T) {
		w := newWorld(t)
		wr := w.writer(t)
		if _, err := wr.Apply(ctx, gitops.Request{Env: stagingEnv, Updates: []gitops.Update{upd("checkout", "2.0.0", 'b')}}); err != nil {
			t.Fatal(err)
		}
		w.verify.remove(dg('b'))
		res, err := wr.Apply(ctx, gitops.Request{Env: stagingEnv, Updates: []gitops.Update{upd("cart", "1.2.0", 'c')}})
		if err != nil {
			t.Fatal(err)
		}
		if got := w.file(t, "automator/staging", stagingFile); strings.Contains(got, dg('b')) || !strings.Contains(got, dg('c')) {
			t.Errorf("the unverifiable update was written again (or cart lost):\n%s", got)
		}
		if len(res.Dropped) != 1 || res.Dropped[0].Update.Service != "checkout" {
			t.Errorf("dropped = %+v, want checkout", res.Dropped)
		}
		wantAll(t, "PR body", w.g.PullRequests(manifests)[0].Body, "Not carried over", "**checkout**", "not in the registry")
	})

	t.Run("without a verifier carried updates are refused", func(t *testing.T) {
		w := newWorld(t)
		if _, err := w.writer(t).Apply(ctx, gitops.Request{Env: stagingEnv, Updates: []gitops.Update{upd("checkout", "2.0.0", 'b')}}); err != nil {
			t.Fatal(err)
		}
		bare, err := gitops.NewGitHubWriter(w.source(t), gitops.WithServerURL(w.g.URL))
		if err != nil {
			t.Fatal(err)
		}
		res, err := bare.Apply(ctx, gitops.Request{Env: stagingEnv, Updates: []gitops.Update{upd("cart", "1.2.0", 'c')}})
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Dropped) != 1 || !strings.Contains(res.Dropped[0].Reason, "no verifier") {
			t.Errorf("dropped = %+v, want checkout refused for want of a verifier", res.Dropped)
		}
	})
}

// TestWriteBackConcurrentFanIn: 20 writers (independent clients, like 20
// processes) commit to one environment at once with 150 ms added to every
// GitHub API call: every one lands, none is lost.
func TestWriteBackConcurrentFanIn(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	const writers = 20
	var values strings.Builder
	for i := range writers {
		fmt.Fprintf(&values, "s%02d:\n  image:\n    repository: ghcr.io/acme/s%02d\n    tag: \"1.0.0\"\n", i, i)
	}
	c := harness.Clone(t, w.g.AuthCloneURL(manifests, w.g.Token), harness.Depth(1))
	c.WriteFile("envs/fanin/values.yaml", values.String())
	c.Commit("fan-in environment")
	c.Git("push", "-q", "origin", "HEAD:main")
	env := config.Environment{Name: "fanin", Repo: manifests, Files: []string{"envs/fanin/values.yaml"}, Mode: "commit"}
	w.g.SetLatency(150 * time.Millisecond)
	errs := make([]error, writers)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range writers {
		wr := w.writer(t)
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			u := gitops.Update{Service: fmt.Sprintf("s%02d", i), Repository: fmt.Sprintf("ghcr.io/acme/s%02d", i), Tag: "2.0.0", Digest: fmt.Sprintf("sha256:%064x", i+1)}
			_, errs[i] = wr.Apply(ctx, gitops.Request{Env: env, Updates: []gitops.Update{u}})
		}()
	}
	close(start)
	wg.Wait()
	w.g.SetLatency(0)
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	got := w.file(t, "main", "envs/fanin/values.yaml")
	for i := range writers {
		if !strings.Contains(got, fmt.Sprintf("sha256:%064x", i+1)) {
			t.Errorf("writer %d's update was lost", i)
		}
	}
}

// TestWriteBackManyServices: 500 services promoted in one request into a
// pull-request environment land as one pull request whose title and body
// GitHub (the fake enforces its limits) accepts, with every value changed.
func TestWriteBackManyServices(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	const n = 500
	var values strings.Builder
	var updates []gitops.Update
	for i := range n {
		fmt.Fprintf(&values, "s%03d:\n  image:\n    repository: ghcr.io/acme/s%03d\n    tag: \"1.0.0\"\n", i, i)
		updates = append(updates, gitops.Update{Service: fmt.Sprintf("s%03d", i), Repository: fmt.Sprintf("ghcr.io/acme/s%03d", i), Tag: "2.0.0", Digest: fmt.Sprintf("sha256:%064x", i+1),
			Scan: &gitops.ScanSummary{Verdict: "pass"}, Source: &gitops.Source{Repo: "acme/app", From: strings.Repeat("1", 40), To: strings.Repeat("2", 40)}})
	}
	c := harness.Clone(t, w.g.AuthCloneURL(manifests, w.g.Token), harness.Depth(1))
	c.WriteFile("envs/big/values.yaml", values.String())
	c.Commit("a big environment")
	c.Git("push", "-q", "origin", "HEAD:main")
	env := config.Environment{Name: "big", Repo: manifests, Files: []string{"envs/big/values.yaml"}, Mode: "pull-request"}
	w.g.ResetRequests()
	res, err := w.writer(t).Apply(ctx, gitops.Request{Env: env, Updates: updates})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("500 services: %d API calls", w.g.APICalls())
	prs := w.g.PullRequests(manifests)
	if len(prs) != 1 || !res.PR.Created {
		t.Fatalf("want one new pull request, got %+v", prs)
	}
	got := w.file(t, "automator/big", "envs/big/values.yaml")
	for i := range n {
		if !strings.Contains(got, fmt.Sprintf("sha256:%064x", i+1)) {
			t.Fatalf("s%03d not promoted", i)
		}
	}
	// A second run with one more change reads the whole record back from the
	// head commit: nothing pending is lost, however long the body had to be cut.
	more := updates[0]
	more.Tag, more.Digest = "3.0.0", fmt.Sprintf("sha256:%064x", 9999)
	if _, err := w.writer(t).Apply(ctx, gitops.Request{Env: env, Updates: []gitops.Update{more}}); err != nil {
		t.Fatal(err)
	}
	got = w.file(t, "automator/big", "envs/big/values.yaml")
	for i := 1; i < n; i++ {
		if !strings.Contains(got, fmt.Sprintf("sha256:%064x", i+1)) {
			t.Fatalf("s%03d lost on the second run", i)
		}
	}
	if !strings.Contains(got, more.Digest) {
		t.Error("the second run's update is missing")
	}
}
