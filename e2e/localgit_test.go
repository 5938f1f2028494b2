package e2e

import (
	"context"
	"errors"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-github/v60/github"

	"github.com/deployment-automator/automator/e2e/harness"
	"github.com/deployment-automator/automator/internal/config"
	"github.com/deployment-automator/automator/internal/git"
	"github.com/deployment-automator/automator/internal/gitops"
	"github.com/deployment-automator/automator/internal/promote"
)

// bareManifests is a bare manifests repository on disk, seeded like the
// GitHub fake's acme/manifests.
type bareManifests struct {
	t       *testing.T
	dir     string
	initial string
}

func newBareManifests(t *testing.T) *bareManifests {
	t.Helper()
	src := harness.NewGitRepo(t, "")
	src.CopyDir(seed(t, map[string]string{
		"envs/dev/values.yaml":         devValues,
		"envs/dev/worker-values.yaml":  strings.ReplaceAll(devValues, "# dev: Helm values", "# dev worker"),
		"envs/staging/values.yaml":     strings.ReplaceAll(devValues, "# dev:", "# staging:"),
		"envs/prod/kustomization.yaml": prodKustomization,
		"README.md":                    "manifests\n",
	}), "")
	first := src.Commit("seed manifests")
	b := &bareManifests{t: t, dir: filepath.Join(t.TempDir(), "manifests.git"), initial: first}
	if out, err := exec.Command("git", "clone", "-q", "--bare", src.Dir, b.dir).CombinedOutput(); err != nil {
		t.Fatalf("cloning bare: %v %s", err, out)
	}
	return b
}

func (b *bareManifests) git(args ...string) (string, error) {
	out, err := exec.Command("git", append([]string{"-C", b.dir}, args...)...).CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

func (b *bareManifests) rev(ref string) string {
	b.t.Helper()
	out, err := b.git("rev-parse", "--verify", "--quiet", ref)
	if err != nil {
		return ""
	}
	return out
}

func (b *bareManifests) file(ref, path string) string {
	b.t.Helper()
	out, err := exec.Command("git", "-C", b.dir, "cat-file", "blob", ref+":"+path).Output()
	if err != nil {
		b.t.Fatalf("reading %s at %s: %v", path, ref, err)
	}
	return string(out)
}

// commitOther lands an unrelated commit on main, as another tool would.
func (b *bareManifests) commitOther(path, content string) string {
	b.t.Helper()
	c := harness.Clone(b.t, "file://"+b.dir, harness.Depth(1))
	c.WriteFile(path, content)
	sha := c.Commit("unrelated change to " + path)
	c.Git("push", "-q", "origin", "HEAD:main")
	return sha
}

func localEnv(env config.Environment, repo string) config.Environment {
	env.Repo = repo
	return env
}

func localWriter(t *testing.T, extra ...gitops.LocalOption) *gitops.LocalWriter {
	t.Helper()
	w, err := gitops.NewLocalWriter([]gitops.Option{gitops.WithServerURL("https://github.example"), gitops.WithAuthor("Automator Bot", "bot@example.com"), gitops.WithVerifier(&digestVerifier{})}, extra...)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func TestLocalWriterCommit(t *testing.T) {
	harness.RequireBinary(t, "git")
	b := newBareManifests(t)
	ctx := context.Background()
	w := localWriter(t)
	for _, repo := range []string{b.dir, "file://" + b.dir} { // a plain path and a URL
		t.Run(strings.SplitN(repo, ":", 2)[0], func(t *testing.T) {
			env := localEnv(devEnv, repo)
			before := b.rev("main")
			tag := map[bool]string{true: "1.1.0", false: "1.2.0"}[strings.HasPrefix(repo, "/")]
			res, err := w.Apply(ctx, gitops.Request{Env: env, Updates: []gitops.Update{upd("cart", tag, tag[2])}})
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Files) != 2 || res.Commit == "" || res.Attempts != 1 {
				t.Fatalf("result: %d files, commit %q, %d attempts", len(res.Files), res.Commit, res.Attempts)
			}
			if got := b.rev("main"); got != res.Commit {
				t.Fatalf("main at %s, want the pushed commit %s", got, res.Commit)
			}
			if parent := b.rev("main^"); parent != before {
				t.Errorf("the commit's parent is %s, want the previous head %s (one commit for all files)", parent, before)
			}
			want := devExpected(devValues, tag, tag[2])
			if got := b.file("main", "envs/dev/values.yaml"); got != want {
				t.Errorf("values.yaml:\n%s\nwant:\n%s", got, want)
			}
			if got, want := b.file("main", "envs/dev/worker-values.yaml"), devExpected(strings.ReplaceAll(devValues, "# dev: Helm values", "# dev worker"), tag, tag[2]); got != want {
				t.Errorf("worker-values.yaml:\n%s\nwant:\n%s", got, want)
			}
			msg, _ := b.git("log", "-1", "--format=%B", "main")
			for _, s := range []string{"Automator-Service: cart", "Automator-Digest: " + dg(tag[2]), "Automator-Source: https://github.example/acme/app/compare/", "Automator-Environment: dev"} {
				if !strings.Contains(msg, s) {
					t.Errorf("commit message lacks %q:\n%s", s, msg)
				}
			}
			if msg+"\n" != res.Message && msg != strings.TrimSpace(res.Message) {
				t.Errorf("pushed message differs from the reported one:\n%s\n---\n%s", msg, res.Message)
			}
			if author, _ := b.git("log", "-1", "--format=%an <%ae>", "main"); author != "Automator Bot <bot@example.com>" {
				t.Errorf("author %q", author)
			}

			// Nothing new: no commit, no push.
			pushed := b.rev("main")
			res, err = w.Apply(ctx, gitops.Request{Env: env, Updates: []gitops.Update{upd("cart", tag, tag[2])}})
			if err != nil || res.Changed() || len(res.Files) != 0 {
				t.Fatalf("re-run: changed=%v files=%d err=%v", res != nil && res.Changed(), len(res.Files), err)
			}
			if got := b.rev("main"); got != pushed {
				t.Errorf("re-run moved main from %s to %s", pushed, got)
			}
		})
	}
	if n := strings.Count(mustLog(t, b), "\n") + 1; n != 3 {
		t.Errorf("main has %d commits, want 3 (seed + one per run; re-runs add none)", n)
	}
}

func mustLog(t *testing.T, b *bareManifests) string {
	t.Helper()
	out, err := b.git("log", "--format=%H", "main")
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestLocalWriterPullRequest(t *testing.T) {
	harness.RequireBinary(t, "git")
	b := newBareManifests(t)
	ctx := context.Background()
	w := localWriter(t)
	env := localEnv(stagingEnv, "file://"+b.dir)

	res, err := w.Apply(ctx, gitops.Request{Env: env, Updates: []gitops.Update{upd("cart", "1.1.0", 'a')}})
	if err != nil {
		t.Fatal(err)
	}
	if res.PR == nil || !res.PR.Created || res.PR.Branch != "automator/staging" || res.Branch != "main" {
		t.Fatalf("want a new pull request branch, got %+v", res.PR)
	}
	if res.PR.Title != "Promote cart to staging" {
		t.Errorf("title %q", res.PR.Title)
	}
	for _, s := range []string{"| **cart** | `1.0.0` → `1.1.0` |", "<!-- automator:pending", "https://github.example/acme/app/compare/", "branch `automator/staging`"} {
		if !strings.Contains(res.PR.Body, s) {
			t.Errorf("PR body lacks %q:\n%s", s, res.PR.Body)
		}
	}
	if b.rev("main") != b.initial {
		t.Error("pull request mode moved main")
	}
	head := b.rev("automator/staging")
	if head != res.Commit || b.rev("automator/staging^") != b.initial {
		t.Fatalf("automator/staging at %s (parent %s), want %s on top of main", head, b.rev("automator/staging^"), res.Commit)
	}
	stagingValues := strings.ReplaceAll(devValues, "# dev:", "# staging:")
	if got, want := b.file("automator/staging", "envs/staging/values.yaml"), devExpected(stagingValues, "1.1.0", 'a'); got != want {
		t.Errorf("staging branch:\n%s\nwant:\n%s", got, want)
	}

	// Re-run with nothing new: no commit, no push, same text.
	again, err := w.Apply(ctx, gitops.Request{Env: env, Updates: []gitops.Update{upd("cart", "1.1.0", 'a')}})
	if err != nil {
		t.Fatal(err)
	}
	if again.Changed() || b.rev("automator/staging") != head {
		t.Fatalf("re-run changed something: %+v", again.PR)
	}

	// One more service: the same branch, stacked, carries both.
	res, err = w.Apply(ctx, gitops.Request{Env: env, Updates: []gitops.Update{upd("checkout", "2.0.0", 'b')}})
	if err != nil {
		t.Fatal(err)
	}
	if !res.PR.Updated || res.PR.Created || b.rev("automator/staging^") != head {
		t.Fatalf("want the branch updated by a fast-forward, got %+v (parent %s)", res.PR, b.rev("automator/staging^"))
	}
	if !strings.Contains(res.PR.Body, "**cart**") || !strings.Contains(res.PR.Body, "**checkout**") || res.PR.Title != "Promote cart, checkout to staging" {
		t.Errorf("PR text does not carry both services: %q\n%s", res.PR.Title, res.PR.Body)
	}
	both := b.file("automator/staging", "envs/staging/values.yaml")
	if !strings.Contains(both, "digest: "+dg('a')) || !strings.Contains(both, "digest: "+dg('b')) {
		t.Errorf("branch lost an update:\n%s", both)
	}

	// The base moved: with nothing new the branch stays; with a newer cart
	// it is regenerated from the new base (a leased force on our own branch),
	// keeping checkout pending and the newest cart.
	moved := b.commitOther("README.md", "manifests, edited\n")
	stacked := b.rev("automator/staging")
	if res, err = w.Apply(ctx, gitops.Request{Env: env, Updates: []gitops.Update{upd("checkout", "2.0.0", 'b')}}); err != nil || res.Changed() || b.rev("automator/staging") != stacked {
		t.Fatalf("base moved, nothing new: changed=%v err=%v", res != nil && res.Changed(), err)
	}
	res, err = w.Apply(ctx, gitops.Request{Env: env, Updates: []gitops.Update{upd("cart", "1.2.0", 'c')}})
	if err != nil {
		t.Fatal(err)
	}
	if res.PR == nil || !res.PR.Updated && !res.PR.Created {
		t.Errorf("regenerating the branch did not update the pull request text: %+v", res.PR)
	}
	if b.rev("automator/staging^") != moved || b.rev("main") != moved {
		t.Fatalf("branch parent %s, want the moved base %s", b.rev("automator/staging^"), moved)
	}
	if got, want := b.file("automator/staging", "envs/staging/values.yaml"), strings.NewReplacer(`"1.1.0"`, `"1.2.0"`, dg('a'), dg('c')).Replace(both); got != want {
		t.Errorf("regenerated branch:\n%s\nwant:\n%s", got, want)
	}
	if got := b.file("automator/staging", "README.md"); got != "manifests, edited\n" {
		t.Errorf("regenerated branch lacks the base's change: %q", got)
	}

	// Merge it (fast-forward, as a reviewer would), then promote prod from
	// what staging runs now, and roll dev back: Current and Previous.
	if out, err := b.git("update-ref", "refs/heads/main", b.rev("automator/staging")); err != nil {
		t.Fatal(err, out)
	}
	p := &promote.Promoter{Writer: w, Images: images}
	stagingLocal := localEnv(stagingEnv, b.dir)
	res, err = p.Promote(ctx, &promote.Target{Env: localEnv(prodEnv, b.dir), From: &promote.Target{Env: stagingLocal}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	prodWant := strings.NewReplacer(
		"newTag: 1.0.0\n    digest: sha256:0000000000000000000000000000000000000000000000000000000000000001", "newTag: 1.2.0\n    digest: "+dg('c'),
		"newTag: 1.0.0\n    digest: sha256:0000000000000000000000000000000000000000000000000000000000000002", "newTag: 2.0.0\n    digest: "+dg('b'),
	).Replace(prodKustomization)
	if got := b.file("automator/prod", "envs/prod/kustomization.yaml"); got != prodWant || !res.PR.Created {
		t.Errorf("prod branch (created %v):\n%s\nwant:\n%s", res.PR.Created, got, prodWant)
	}

	// A merged branch is stale: the next staging run starts a fresh one that
	// carries only the new update.
	res, err = w.Apply(ctx, gitops.Request{Env: env, Updates: []gitops.Update{upd("cart", "1.3.0", 'd')}})
	if err != nil {
		t.Fatal(err)
	}
	if !res.PR.Created || len(res.Updates) != 1 || res.Updates[0].Service != "cart" || b.rev("automator/staging^") != b.rev("main") {
		t.Errorf("after the merge: want a fresh branch with cart only, got %+v updates %+v", res.PR, res.Updates)
	}

	devLocal := localEnv(devEnv, b.dir)
	if _, err := w.Apply(ctx, gitops.Request{Env: devLocal, Updates: []gitops.Update{upd("cart", "1.1.0", 'a')}}); err != nil {
		t.Fatal(err)
	}
	prev, err := w.Previous(ctx, devLocal)
	if err != nil {
		t.Fatal(err)
	}
	if prev != b.rev("main^") {
		t.Errorf("Previous = %s, want %s", prev, b.rev("main^"))
	}
	imgs, err := w.Current(ctx, devLocal, b.initial, images)
	if err != nil {
		t.Fatal(err)
	}
	if len(imgs) != 2 || imgs[0].Service != "cart" || imgs[0].Tag != "1.0.0" || imgs[0].Digest != "sha256:0000000000000000000000000000000000000000000000000000000000000001" {
		t.Errorf("Current at the seed commit: %+v", imgs)
	}
	if _, err := p.Rollback(ctx, &promote.Target{Env: devLocal}, "", "", ""); err != nil {
		t.Fatal(err)
	}
	if got := b.file("automator/rollback-dev", "envs/dev/values.yaml"); got != devValues {
		t.Errorf("rollback branch:\n%s\nwant the original:\n%s", got, devValues)
	}
}

func TestLocalWriterDryRun(t *testing.T) {
	harness.RequireBinary(t, "git")
	b := newBareManifests(t)
	w := localWriter(t, gitops.WithPusher(gitops.DryRunPusher{}))
	refs := func() string { out, _ := b.git("for-each-ref"); return out }
	before := refs()
	for _, env := range []config.Environment{localEnv(devEnv, b.dir), localEnv(stagingEnv, b.dir)} {
		res, err := w.Apply(context.Background(), gitops.Request{Env: env, Updates: []gitops.Update{upd("cart", "1.1.0", 'a')}})
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(res.Diff(), "+    digest: "+dg('a')) {
			t.Errorf("%s: dry run diff:\n%s", env.Name, res.Diff())
		}
		if env.Mode == "pull-request" && (res.PR == nil || !strings.Contains(res.PR.Body, "**cart**")) {
			t.Errorf("%s: dry run PR text: %+v", env.Name, res.PR)
		}
	}
	if after := refs(); after != before {
		t.Errorf("dry run moved refs:\n%s\nwas:\n%s", after, before)
	}
}

// racingPusher lets another writer land its promotion just before the first
// push: a deterministic lost race.
type racingPusher struct {
	once  sync.Once
	rival func() error
	err   error
}

func (p *racingPusher) Push(ctx context.Context, repo *git.Repo, u gitops.RefUpdate) error {
	p.once.Do(func() { p.err = p.rival() })
	if p.err != nil {
		return p.err
	}
	return gitops.GitPusher{}.Push(ctx, repo, u)
}

func TestLocalWriterRebaseAndRetry(t *testing.T) {
	harness.RequireBinary(t, "git")
	for _, base := range []config.Environment{devEnv, stagingEnv} {
		t.Run(base.Mode, func(t *testing.T) {
			b := newBareManifests(t)
			ctx := context.Background()
			env := localEnv(base, b.dir)
			rp := &racingPusher{rival: func() error {
				_, err := localWriter(t).Apply(ctx, gitops.Request{Env: env, Updates: []gitops.Update{upd("checkout", "2.0.0", 'b')}})
				return err
			}}
			res, err := localWriter(t, gitops.WithPusher(rp)).Apply(ctx, gitops.Request{Env: env, Updates: []gitops.Update{upd("cart", "1.1.0", 'a')}})
			if err != nil {
				t.Fatal(err)
			}
			if res.Attempts != 2 {
				t.Errorf("attempts = %d, want 2 (rejected once, re-applied)", res.Attempts)
			}
			ref, path := "main", "envs/dev/values.yaml"
			if env.Mode != "commit" {
				ref, path = "automator/staging", "envs/staging/values.yaml"
				if !strings.Contains(res.PR.Body, "**checkout**") || !strings.Contains(res.PR.Body, "**cart**") {
					t.Errorf("PR text lost the rival's update:\n%s", res.PR.Body)
				}
			}
			got := b.file(ref, path)
			if !strings.Contains(got, "digest: "+dg('a')) || !strings.Contains(got, "digest: "+dg('b')) {
				t.Errorf("an update was lost:\n%s", got)
			}
			if n := strings.Count(mustLogRef(t, b, ref), "\n") + 1; n != 3 {
				t.Errorf("%s has %d commits, want 3 (seed, rival, ours)", ref, n)
			}
		})
	}
}

func mustLogRef(t *testing.T, b *bareManifests, ref string) string {
	t.Helper()
	out, err := b.git("log", "--format=%H", ref)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestLocalWriterConcurrent(t *testing.T) {
	harness.RequireBinary(t, "git")
	for _, base := range []config.Environment{devEnv, stagingEnv} {
		t.Run(base.Mode, func(t *testing.T) {
			b := newBareManifests(t)
			ctx := context.Background()
			env := localEnv(base, "file://"+b.dir)
			reqs := []gitops.Update{upd("cart", "1.1.0", 'a'), upd("checkout", "2.0.0", 'b')}
			errs := make([]error, len(reqs))
			var wg sync.WaitGroup
			start := make(chan struct{})
			for i := range reqs {
				w := localWriter(t) // separate writers, separate clones
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					_, errs[i] = w.Apply(ctx, gitops.Request{Env: env, Updates: []gitops.Update{reqs[i]}})
				}()
			}
			close(start)
			wg.Wait()
			if err := errors.Join(errs...); err != nil {
				t.Fatal(err)
			}
			ref, path := "main", "envs/dev/values.yaml"
			if env.Mode != "commit" {
				ref, path = "automator/staging", "envs/staging/values.yaml"
				msg, _ := b.git("log", "-1", "--format=%B", ref)
				if !strings.Contains(msg, `"service":"cart"`) || !strings.Contains(msg, `"service":"checkout"`) {
					t.Errorf("the branch head's pending block lost an update:\n%s", msg)
				}
			}
			got := b.file(ref, path)
			if !strings.Contains(got, "digest: "+dg('a')) || !strings.Contains(got, "digest: "+dg('b')) {
				t.Errorf("an update was lost:\n%s", got)
			}
		})
	}
}

// forceHook runs before() once, just before the first update of a pull
// request branch (automator/…), forced or not.
type forceHook struct {
	gitops.GitAPI
	once   sync.Once
	before func()
}

func (f *forceHook) UpdateRef(ctx context.Context, owner, repo string, ref *github.Reference, force bool) (*github.Reference, *github.Response, error) {
	if force || strings.HasPrefix(ref.GetRef(), "refs/heads/automator/") {
		f.once.Do(f.before)
	}
	return f.GitAPI.UpdateRef(ctx, owner, repo, ref, force)
}

// TestGitHubForcedRegenerationRace covers regenerating automator/<env> after
// the base moved (once a forced update, now a fast-forward that keeps the old
// head as second parent): writer B reads the branch, then writer A
// regenerates it completely (update, PR body, verification), then B updates
// the branch. B must not lose A's pending update: its update is rejected, and
// it re-reads A's commit and re-applies on it.
func TestGitHubForcedRegenerationRace(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	if _, err := w.writer(t).Apply(ctx, gitops.Request{Env: stagingEnv, Updates: []gitops.Update{upd("cart", "1.1.0", 'a')}}); err != nil {
		t.Fatal(err)
	}
	c := harness.Clone(t, w.g.AuthCloneURL(manifests, w.g.Token), harness.Depth(1))
	c.WriteFile("README.md", "the base moved\n")
	c.Commit("unrelated change")
	c.Git("push", "-q", "origin", "HEAD:main")

	var rivalErr error
	src := w.source(t)
	hooked := func(ctx context.Context, owner, repo string) (gitops.API, error) {
		api, err := src(ctx, owner, repo)
		api.Git = &forceHook{GitAPI: api.Git, before: func() {
			_, rivalErr = w.writer(t).Apply(ctx, gitops.Request{Env: stagingEnv, Updates: []gitops.Update{upd("checkout", "2.0.0", 'b')}})
		}}
		return api, err
	}
	b, err := gitops.NewGitHubWriter(hooked, gitops.WithServerURL(w.g.URL), gitops.WithVerifier(&w.verify))
	if err != nil {
		t.Fatal(err)
	}
	res, err := b.Apply(ctx, gitops.Request{Env: stagingEnv, Updates: []gitops.Update{upd("cart", "1.2.0", 'c')}})
	if err != nil || rivalErr != nil {
		t.Fatalf("writer: %v; rival: %v", err, rivalErr)
	}
	got := w.file(t, "automator/staging", "envs/staging/values.yaml")
	if !strings.Contains(got, "digest: "+dg('c')) || !strings.Contains(got, "digest: "+dg('b')) {
		t.Errorf("an update was lost (attempts %d):\n%s", res.Attempts, got)
	}
	prs := w.g.PullRequests(manifests)
	if len(prs) != 1 || !strings.Contains(prs[0].Body, "**checkout**") || !strings.Contains(prs[0].Body, "**cart**") {
		t.Errorf("pull requests: %d; body:\n%s", len(prs), prs[0].Body)
	}
}

// TestLocalWriterHumanCommit: a commit someone else pushed to the local
// writer's pull request branch is never written over (and the pending
// updates before it are not lost with it): the run fails, saying why.
func TestLocalWriterHumanCommit(t *testing.T) {
	harness.RequireBinary(t, "git")
	b := newBareManifests(t)
	ctx := context.Background()
	env := localEnv(stagingEnv, "file://"+b.dir)
	if _, err := localWriter(t).Apply(ctx, gitops.Request{Env: env, Updates: []gitops.Update{upd("cart", "1.1.0", 'a')}}); err != nil {
		t.Fatal(err)
	}
	c := harness.Clone(t, "file://"+b.dir, harness.CloneBranch("automator/staging"))
	c.WriteFile("envs/staging/values.yaml", c.ReadFile("envs/staging/values.yaml")+"# reviewed: bump replicas next\n")
	human := c.Commit("review: note")
	c.Git("push", "-q", "origin", "HEAD:automator/staging")

	_, err := localWriter(t).Apply(ctx, gitops.Request{Env: env, Updates: []gitops.Update{upd("checkout", "2.0.0", 'b')}})
	var fe *gitops.ForeignCommitError
	if !errors.As(err, &fe) || fe.Commit != human {
		t.Fatalf("err = %v, want a ForeignCommitError naming %s", err, human)
	}
	if got := b.rev("automator/staging"); got != human {
		t.Fatalf("the human commit was written over: head %s", got)
	}
	if got := b.file("automator/staging", "envs/staging/values.yaml"); !strings.Contains(got, dg('a')) || !strings.Contains(got, "# reviewed") {
		t.Errorf("the branch lost the earlier update or the human's change:\n%s", got)
	}
}
