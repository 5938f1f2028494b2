package e2e

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

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

func seed(t *testing.T, files map[string]string) string {
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
	src := w.source(t, extra...)
	wr, err := gitops.NewGitHubWriter(src, gitops.WithServerURL(w.g.URL))
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
	res, err = p.Rollback(ctx, &promote.Target{Env: devEnv}, "")
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
