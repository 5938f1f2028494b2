package e2e_test

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/deployment-automator/automator/e2e/harness"
	"github.com/deployment-automator/automator/internal/scan/scantest"
)

// pushRandom pushes a small random image to REGISTRY/repo:tag and returns
// the reference to promote it by: REGISTRY/repo:tag@sha256:….
func (s *shop) pushRandom(repo, tag string) (ref, digest string) {
	s.t.Helper()
	img, err := random.Image(512, 1)
	if err != nil {
		s.t.Fatal(err)
	}
	r, err := name.ParseReference(s.reg.Ref(repo)+":"+tag, name.Insecure)
	if err != nil {
		s.t.Fatal(err)
	}
	if err := remote.Write(r, img, remote.WithAuth(s.reg.Authenticator())); err != nil {
		s.t.Fatalf("pushing %s: %v", r, err)
	}
	d, err := img.Digest()
	if err != nil {
		s.t.Fatal(err)
	}
	return s.reg.Ref(repo) + ":" + tag + "@" + d.String(), d.String()
}

// cliEnv is the environment of a process run outside Actions against the
// fake and the registry: GitHub API root and token, registry credentials.
func (s *shop) cliEnv() map[string]string {
	env := s.gh.Env(manifestRepo)
	env["REG_USER"], env["REG_PASS"] = regUser, regPassword
	env["DOCKER_CONFIG"] = s.t.TempDir()
	return env
}

// execTogether starts one process per argument list at the same moment —
// every goroutine waits on one barrier, then starts its process — and waits
// for all of them. Like exec, each runs in the app checkout with exactly env
// and must not print a secret.
func (s *shop) execTogether(env map[string]string, argLists ...[]string) []runResult {
	s.t.Helper()
	results := make([]runResult, len(argLists))
	errs := make([]error, len(argLists))
	barrier := make(chan struct{})
	var wg sync.WaitGroup
	for i, args := range argLists {
		cmd := exec.Command(s.bin, args...)
		cmd.Dir = s.app.Dir
		cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
		for k, v := range env {
			cmd.Env = append(cmd.Env, k+"="+v)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			<-barrier
			err := cmd.Run()
			results[i] = runResult{stdout: stdout.String(), stderr: stderr.String()}
			var ee *exec.ExitError
			switch {
			case errors.As(err, &ee):
				results[i].code = ee.ExitCode()
			case err != nil:
				errs[i] = err
			}
		}()
	}
	close(barrier)
	wg.Wait()
	for i, r := range results {
		if errs[i] != nil {
			s.t.Fatalf("running automator %v: %v", argLists[i], errs[i])
		}
		for _, secret := range []string{regPassword, s.gh.Token} {
			if strings.Contains(r.stdout+r.stderr, secret) {
				s.t.Errorf("automator %v printed a secret (%.6s…)", argLists[i], secret)
			}
		}
	}
	return results
}

// writeBarrier is a reverse proxy in front of the GitHub fake that holds the
// first request of each of two processes matching a pattern (the ref update
// that lands a change) until both have arrived, then lets them go together:
// both processes have read the same branch head and race to move it. Later
// matching requests (retries) pass straight through.
type writeBarrier struct {
	t       *testing.T
	URL     string // the /api/v3 root to give the processes as GITHUB_API_URL
	mu      sync.Mutex
	match   *regexp.Regexp
	waiting int
	release chan struct{}
	met     bool
}

func newWriteBarrier(t *testing.T, gh *harness.GitHub) *writeBarrier {
	t.Helper()
	target, err := url.Parse(gh.URL)
	if err != nil {
		t.Fatal(err)
	}
	b := &writeBarrier{t: t}
	proxy := httputil.NewSingleHostReverseProxy(target)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b.hold(r)
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	b.URL = srv.URL + "/api/v3"
	return b
}

// arm makes the next two requests "METHOD path" matching pattern wait for
// each other.
func (b *writeBarrier) arm(pattern string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.match, b.waiting, b.release, b.met = regexp.MustCompile(pattern), 0, make(chan struct{}), false
}

func (b *writeBarrier) hold(r *http.Request) {
	b.mu.Lock()
	if b.match == nil || b.waiting >= 2 || !b.match.MatchString(r.Method+" "+strings.TrimPrefix(r.URL.Path, "/api/v3")) {
		b.mu.Unlock()
		return
	}
	b.waiting++
	release := b.release
	if b.waiting == 2 {
		b.met = true
		close(release)
	}
	b.mu.Unlock()
	select {
	case <-release:
	case <-time.After(30 * time.Second): // the other process never got here; overlapped() reports it
	}
}

// overlapped reports whether both processes reached the barrier.
func (b *writeBarrier) overlapped() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.met
}

// requireBothExit0 fails the test unless every process exited 0.
func requireBothExit0(t *testing.T, what string, rs []runResult) {
	t.Helper()
	for i, r := range rs {
		if r.code != 0 {
			t.Fatalf("%s: process %d exit %d\nstdout:\n%s\nstderr:\n%s", what, i, r.code, r.stdout, r.stderr)
		}
	}
}

// TestTwoProcessesPromoteSameEnvironment: two promotions into the same
// environment, started at the same moment by two processes, both land with
// no error and nothing lost — in dev by direct commits (the second one
// re-reads and re-applies after the other moved the branch) and in staging
// as one pull request carrying both services (created by one process,
// regenerated by the other, or updated by both when it is already open).
// Each scenario runs a few times with new images to give the race a chance.
func TestTwoProcessesPromoteSameEnvironment(t *testing.T) {
	s := newShop(t)
	barrier := newWriteBarrier(t, s.gh)
	env := s.cliEnv()
	env["GITHUB_API_URL"] = barrier.URL
	const rounds = 3

	// Two runners do not share a Trivy cache (one process's layer cache
	// lock would make the other wait for it): the second process reads a
	// copy of the config with its own cache.
	secondScanDir := t.TempDir()
	if err := scantest.WriteDB(secondScanDir, scantest.FreshDB(time.Now())); err != nil {
		t.Fatal(err)
	}
	secondConfig := filepath.Join(s.app.Dir, ".github", "automator-second.yaml") // untracked
	cfg := strings.Replace(s.app.ReadFile(".github/automator.yaml"), "cacheDir: "+s.scanDir+"\n", "cacheDir: "+secondScanDir+"\n", 1)
	if err := os.WriteFile(secondConfig, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}

	// race pushes new cart and checkout images tagged tag and promotes them
	// into envName by two processes whose first write matching pattern
	// meets at the barrier; it returns the two digests.
	race := func(t *testing.T, envName, tag, pattern string) (cartDigest, checkoutDigest string) {
		t.Helper()
		cartRef, cartDigest := s.pushRandom("acme/cart", tag)
		checkoutRef, checkoutDigest := s.pushRandom("acme/checkout", tag)
		barrier.arm(pattern)
		rs := s.execTogether(env,
			[]string{"promote", "--env", envName, "--set", "cart=" + cartRef},
			[]string{"promote", "--config", secondConfig, "--env", envName, "--set", "checkout=" + checkoutRef})
		requireBothExit0(t, "round "+tag, rs)
		if !barrier.overlapped() {
			t.Errorf("round %s: the two processes never wrote %s at the same time", tag, envName)
		}
		return cartDigest, checkoutDigest
	}

	t.Run("dev by commit", func(t *testing.T) {
		for i := range rounds {
			tag := fmt.Sprintf("dev-%d", i)
			before, _ := s.gh.RevParse(manifestRepo, "main")
			commitsBefore := len(s.gh.Log(manifestRepo, "main"))
			cartDigest, checkoutDigest := race(t, "dev", tag, `^PATCH /repos/acme/manifests/git/refs/heads/main$`)

			dev, _ := s.gh.ReadFile(manifestRepo, "main", "envs/dev/values.yaml")
			for svc, d := range map[string]string{"cart": tag + "@" + cartDigest, "checkout": tag + "@" + checkoutDigest} {
				if !strings.Contains(dev, d) {
					t.Errorf("round %s: dev values on main lost %s's update to %s:\n%s", tag, svc, d, dev)
				}
			}
			if lines := changedLines(t, s.manifest["envs/dev/values.yaml"], dev); len(lines) != 2 {
				t.Errorf("round %s: dev values changed lines %v, want only the two tags\n%s", tag, lines, dev)
			}
			log := s.gh.Log(manifestRepo, "main")
			if n := len(log) - commitsBefore; n < 1 || n > 2 {
				t.Errorf("round %s: %d new commits on main, want one per process or one with both", tag, n)
			}
			if len(log) > 0 && log[len(log)-commitsBefore] != before {
				t.Errorf("round %s: main was rewritten: %s is no longer in its history", tag, before)
			}
			if pulls := s.gh.PullRequests(manifestRepo); len(pulls) != 0 {
				t.Errorf("round %s: dev is mode commit but pull requests exist: %+v", tag, pulls)
			}
		}
	})

	t.Run("staging by pull request", func(t *testing.T) {
		for i := range rounds {
			tag := fmt.Sprintf("rc-%d", i)
			mainBefore, _ := s.gh.RevParse(manifestRepo, "main")
			// Both processes create (or move) automator/staging at once.
			cartDigest, checkoutDigest := race(t, "staging", tag, `^(POST /repos/acme/manifests/git/refs|PATCH /repos/acme/manifests/git/refs/heads/automator/staging)$`)

			var open []harness.PullRequest
			for _, p := range s.gh.PullRequests(manifestRepo) {
				if p.State == "open" {
					open = append(open, p)
				}
			}
			if len(open) != 1 || open[0].Head != "automator/staging" || open[0].Base != "main" {
				t.Fatalf("round %s: open pull requests %+v, want one automator/staging → main", tag, open)
			}
			if mainAfter, _ := s.gh.RevParse(manifestRepo, "main"); mainAfter != mainBefore {
				t.Errorf("round %s: a pull-request environment moved main: %s → %s", tag, mainBefore, mainAfter)
			}
			staging, _ := s.gh.ReadFile(manifestRepo, "automator/staging", "envs/staging/values.yaml")
			for svc, d := range map[string]string{"cart": cartDigest, "checkout": checkoutDigest} {
				if !strings.Contains(staging, tag+"@"+d) {
					t.Errorf("round %s: the PR branch lost %s's update to %s:\n%s", tag, svc, d, staging)
				}
				if !strings.Contains(open[0].Body, d) {
					t.Errorf("round %s: the PR body does not list %s at %s:\n%s", tag, svc, d, open[0].Body)
				}
			}
			if lines := changedLines(t, s.manifest["envs/staging/values.yaml"], staging); len(lines) != 2 {
				t.Errorf("round %s: staging values changed lines %v, want only the two tags\n%s", tag, lines, staging)
			}
			// Round 0's PR is merged so round 1 races to create a fresh one;
			// round 2 races to update round 1's open PR.
			if i == 0 {
				s.gh.MergePull(manifestRepo, open[0].Number)
			}
		}
	})
}

// TestRunDryRunWritesNothing: `automator run --dry-run` outside Actions
// builds and scans the changed services, prints the diff dev would get and
// the commit it would make, and writes nothing: no blob upload or manifest
// PUT reaches the registry and the GitHub fake records no write.
func TestRunDryRunWritesNothing(t *testing.T) {
	s := newShop(t)
	s.app.WriteFile("libs/common/common.txt", "shared library v2\n")
	change := s.app.Commit("common: v2")
	s.app.PushTo(s.gh, shopRepo)
	s.reg.ResetRequests()
	writes := len(s.gh.Writes())
	mainBefore, _ := s.gh.RevParse(manifestRepo, "main")

	r := s.exec(s.cliEnv(), "run", "--base", s.initial, "--head", change, "--env", "dev", "--dry-run")
	if r.code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	var removed, added []string
	for line := range strings.SplitSeq(r.stdout, "\n") {
		switch {
		case strings.HasPrefix(line, "---"), strings.HasPrefix(line, "+++"):
		case strings.HasPrefix(line, "-"):
			removed = append(removed, line)
		case strings.HasPrefix(line, "+"):
			added = append(added, line)
		}
	}
	short := change[:12]
	if len(removed) != 2 || len(added) != 2 {
		t.Errorf("diff removes %q and adds %q; want the two tag lines\n%s", removed, added, r.stdout)
	}
	for _, l := range added {
		if !strings.Contains(l, "tag: \"sha-"+short+"@sha256:") {
			t.Errorf("added line %q does not pin the new tag by digest", l)
		}
	}
	if !strings.Contains(r.stdout, "dev: would commit to "+manifestRepo+"@main") {
		t.Errorf("output does not say it would commit to dev:\n%s", r.stdout)
	}

	for _, w := range []struct {
		method string
		kind   harness.RequestKind
	}{
		{"POST", harness.KindBlobUpload}, {"PATCH", harness.KindBlobUpload}, {"PUT", harness.KindBlobUpload},
		{"PUT", harness.KindManifest}, {"DELETE", ""},
	} {
		if n := s.reg.Count(w.method, w.kind); n != 0 {
			t.Errorf("a dry run sent %d %s %s requests to the registry", n, w.method, w.kind)
		}
	}
	if got := s.gh.Writes()[writes:]; len(got) != 0 {
		t.Errorf("a dry run wrote to GitHub: %+v", got)
	}
	if mainAfter, _ := s.gh.RevParse(manifestRepo, "main"); mainAfter != mainBefore {
		t.Errorf("a dry run moved main: %s → %s", mainBefore, mainAfter)
	}
	for _, svc := range []string{"acme/cart", "acme/checkout"} {
		if tags, err := remote.List(mustRepo(t, s.reg.Ref(svc)), remote.WithAuth(s.reg.Authenticator())); err == nil && len(tags) > 0 {
			t.Errorf("a dry run pushed %s: %v", svc, tags)
		}
	}
}
