package gitops

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-github/v60/github"

	"github.com/deployment-automator/automator/internal/config"
)

const values = `image:
  repository: ghcr.io/acme/cart
  tag: "1.0.0"
  digest: sha256:1111111111111111111111111111111111111111111111111111111111111111
`

func digest(c string) string { return "sha256:" + strings.Repeat(c, 64) }

// fakeGit serves one commit with one file and records writes. UpdateRef
// answers with the scripted errors first.
type fakeGit struct {
	head       string
	content    string
	refErrs    []error
	writes     []string
	forces     []bool
	getRefs    int
	failWrites bool
	t          *testing.T
}

func (f *fakeGit) write(what string) {
	if f.failWrites {
		f.t.Errorf("unexpected write %s", what)
	}
	f.writes = append(f.writes, what)
}

func (f *fakeGit) GetRef(context.Context, string, string, string) (*github.Reference, *github.Response, error) {
	f.getRefs++
	return &github.Reference{Object: &github.GitObject{SHA: github.String(f.head)}}, nil, nil
}
func (f *fakeGit) CreateRef(_ context.Context, _, _ string, r *github.Reference) (*github.Reference, *github.Response, error) {
	f.write("CreateRef")
	return r, nil, nil
}
func (f *fakeGit) UpdateRef(_ context.Context, _, _ string, r *github.Reference, force bool) (*github.Reference, *github.Response, error) {
	f.write("UpdateRef")
	f.forces = append(f.forces, force)
	if len(f.refErrs) > 0 {
		err := f.refErrs[0]
		f.refErrs = f.refErrs[1:]
		f.head += "x" // someone else pushed
		return nil, nil, err
	}
	f.head = r.GetObject().GetSHA()
	return r, nil, nil
}
func (f *fakeGit) GetTree(context.Context, string, string, string, bool) (*github.Tree, *github.Response, error) {
	return &github.Tree{SHA: github.String("tree0"), Entries: []*github.TreeEntry{
		{Path: github.String("envs/dev/values.yaml"), Type: github.String("blob"), Mode: github.String("100644"), SHA: github.String("blob0")},
		{Path: github.String("README.md"), Type: github.String("blob"), Mode: github.String("100644"), SHA: github.String("blob1")},
	}}, nil, nil
}
func (f *fakeGit) GetBlob(context.Context, string, string, string) (*github.Blob, *github.Response, error) {
	return &github.Blob{Encoding: github.String("base64"), Content: github.String(base64.StdEncoding.EncodeToString([]byte(f.content)))}, nil, nil
}
func (f *fakeGit) CreateTree(_ context.Context, _, _, base string, es []*github.TreeEntry) (*github.Tree, *github.Response, error) {
	f.write("CreateTree")
	if base != "tree0" || len(es) != 1 || es[0].Content == nil {
		f.t.Errorf("CreateTree(base %q, %d entries): want base_tree and inline content", base, len(es))
	}
	return &github.Tree{SHA: github.String("tree1")}, nil, nil
}
func (f *fakeGit) GetCommit(context.Context, string, string, string) (*github.Commit, *github.Response, error) {
	return &github.Commit{}, nil, nil
}
func (f *fakeGit) CreateCommit(_ context.Context, _, _ string, c *github.Commit, _ *github.CreateCommitOptions) (*github.Commit, *github.Response, error) {
	f.write("CreateCommit")
	if c.Author != nil || c.Committer != nil {
		f.t.Error("commit carries a custom author or committer")
	}
	return &github.Commit{SHA: github.String(fmt.Sprintf("commit%d", len(f.writes)))}, nil, nil
}

type fakeRepos struct{ RepositoriesAPI }

func (fakeRepos) Get(context.Context, string, string) (*github.Repository, *github.Response, error) {
	return &github.Repository{DefaultBranch: github.String("main")}, nil, nil
}

func unprocessable(msg string) error {
	return &github.ErrorResponse{Response: &http.Response{StatusCode: http.StatusUnprocessableEntity}, Message: msg}
}

var dev = config.Environment{Name: "dev", Repo: "acme/manifests", Files: []string{"envs/*/values.yaml"}, Mode: "commit"}

func newTestWriter(t *testing.T, g *fakeGit, dry bool) *GitHubWriter {
	t.Helper()
	var src ClientSource = func(context.Context, string, string) (API, error) {
		return API{Git: g, Repositories: fakeRepos{}}, nil
	}
	if dry {
		src = DryRun(src)
	}
	w, err := NewGitHubWriter(src, WithRetryFor(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	// A fake clock that sleeping advances, and the longest wait jitter can
	// draw: a deterministic number of attempts within retryFor.
	clock := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	w.o.now = func() time.Time { return clock }
	w.o.sleep = func(_ context.Context, d time.Duration) error { clock = clock.Add(d); return nil }
	w.o.jitter = func(n time.Duration) time.Duration { return n }
	return w
}

func cartUpdate() Update {
	return Update{Service: "cart", Repository: "ghcr.io/acme/cart", Tag: "1.1.0", Digest: digest("a")}
}

func TestCommitMode(t *testing.T) {
	tests := []struct {
		name      string
		content   string
		refErrs   []error
		dry       bool
		wantErr   error
		wantWrite int
		wantTries int
	}{
		{name: "one commit", content: values, wantWrite: 3, wantTries: 1},
		{name: "nothing changed", content: strings.ReplaceAll(strings.ReplaceAll(values, `"1.0.0"`, `"1.1.0"`), digest("1"), digest("a")), wantWrite: 0, wantTries: 1},
		{name: "non-fast-forward is re-read and retried", content: values, refErrs: []error{unprocessable("Update is not a fast forward")}, wantWrite: 6, wantTries: 2},
		// Waits of 250 ms, 500 ms, then the 250 ms left of retryFor (1 s):
		// the fourth lost race is past the deadline.
		{name: "bounded by time", content: values, refErrs: []error{unprocessable("Update is not a fast forward"), unprocessable("Update is not a fast forward"), unprocessable("Update is not a fast forward"), unprocessable("Update is not a fast forward")}, wantErr: ErrConflict, wantWrite: 12},
		{name: "protected branch", content: values, refErrs: []error{unprocessable("Protected branch update failed for refs/heads/main.")}, wantErr: ErrProtectedBranch, wantWrite: 3},
		{name: "dry run writes nothing", content: values, dry: true, wantWrite: 0, wantTries: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := &fakeGit{head: "c0", content: tt.content, refErrs: tt.refErrs, t: t, failWrites: tt.dry}
			res, err := newTestWriter(t, g, tt.dry).Apply(context.Background(), Request{Env: dev, Updates: []Update{cartUpdate()}})
			if tt.wantErr != nil {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr.Error()) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			if len(g.writes) != tt.wantWrite {
				t.Errorf("writes = %v, want %d", g.writes, tt.wantWrite)
			}
			for _, f := range g.forces {
				if f {
					t.Error("the environment branch was force-updated")
				}
			}
			if tt.wantErr == nil && res.Attempts != tt.wantTries {
				t.Errorf("attempts = %d, want %d", res.Attempts, tt.wantTries)
			}
			if tt.dry && !strings.Contains(res.Diff(), "+  tag: \"1.1.0\"") {
				t.Errorf("dry run diff:\n%s", res.Diff())
			}
		})
	}
}

// TestCarry: this run's update wins per service whatever either runner's
// clock says (the order in which write-backs reach the branch); asking for
// what is already pending keeps the pending entry.
func TestCarry(t *testing.T) {
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	u := func(svc, tag string, at time.Time) Update {
		return Update{Service: svc, Repository: "r/" + svc, Tag: tag, At: at}
	}
	tests := []struct {
		name           string
		pending, fresh []Update
		want           []string
	}{
		{"new service added", []Update{u("a", "1", t0)}, []Update{u("b", "1", t0)}, []string{"a:1@" + t0.String(), "b:1@" + t0.String()}},
		{"this run wins", []Update{u("a", "1", t0)}, []Update{u("a", "2", t0.Add(time.Hour))}, []string{"a:2@" + t0.Add(time.Hour).String()}},
		{"a pending entry dated in the future does not win", []Update{u("a", "2", t0.AddDate(74, 0, 0))}, []Update{u("a", "1", t0)}, []string{"a:1@" + t0.String()}},
		{"same target keeps the pending entry", []Update{u("a", "1", t0)}, []Update{u("a", "1", t0.Add(time.Hour))}, []string{"a:1@" + t0.String()}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, m := range carry(tt.pending, tt.fresh) {
				got = append(got, m.Service+":"+m.Tag+"@"+m.At.String())
			}
			if strings.Join(got, ",") != strings.Join(tt.want, ",") {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestPendingBlockRoundTrip(t *testing.T) {
	in := []Update{{Service: "cart", Repository: "ghcr.io/acme/cart", Tag: "1.0.0--rc", Digest: digest("a"),
		Scan: &ScanSummary{Verdict: "warn", Blocking: []Finding{{ID: "CVE-1", Title: "a --> b"}}}}}
	text := "hello\n\n" + encodeBlock("dev", "abc", in, nil) + "\n"
	if strings.Count(text, "-->") != 1 {
		t.Fatalf("block can end early:\n%s", text)
	}
	pb := decodeBlock(text)
	if pb.Base != "abc" || len(pb.Updates) != 1 || pb.Updates[0].Tag != "1.0.0--rc" || pb.Updates[0].Scan.Blocking[0].Title != "a --> b" {
		t.Errorf("round trip: %+v", pb)
	}
	if got := decodeBlock("edited by hand"); got.Updates != nil {
		t.Errorf("no block: %+v", got)
	}
}

func TestGlobMatch(t *testing.T) {
	tests := []struct {
		pat, name string
		want      bool
	}{
		{"envs/dev/values.yaml", "envs/dev/values.yaml", true},
		{"envs/*/values.yaml", "envs/dev/values.yaml", true},
		{"envs/*.yaml", "envs/dev/values.yaml", false},
		{"envs/**/*.yaml", "envs/dev/values.yaml", true},
		{"envs/**/*.yaml", "envs/a/b/c.yaml", true},
		{"envs/**/kustomization.yaml", "envs/kustomization.yaml", true},
		{"envs/**/kustomization.yaml", "other/kustomization.yaml", false},
	}
	for _, tt := range tests {
		if got := globMatch(tt.pat, tt.name); got != tt.want {
			t.Errorf("globMatch(%q, %q) = %v, want %v", tt.pat, tt.name, got, tt.want)
		}
	}
}

func TestReadImages(t *testing.T) {
	kust := "images:\n  - name: ghcr.io/acme/cart\n    newTag: 2.0.0\n    digest: " + digest("b") + "\n"
	str := "app:\n  image: ghcr.io/acme/cart:3.0.0@" + digest("c") + "\n"
	tests := []struct {
		name, file, content, tag, digest string
	}{
		{"helm", "values.yaml", values, "1.0.0", digest("1")},
		{"kustomize", "kustomization.yaml", kust, "2.0.0", digest("b")},
		{"image string", "values.yaml", str, "3.0.0", digest("c")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			imgs, err := readImages(dev, []file{{Path: tt.file, Content: []byte(tt.content)}}, map[string]string{"cart": "ghcr.io/acme/cart", "absent": "ghcr.io/acme/absent"})
			if err != nil {
				t.Fatal(err)
			}
			if len(imgs) != 1 || imgs[0].Tag != tt.tag || imgs[0].Digest != tt.digest {
				t.Errorf("images = %+v, want cart %s@%s only", imgs, tt.tag, tt.digest)
			}
		})
	}
}

// TestBackoffFullJitter: the wait after attempt n is drawn from [0, bound)
// with the bound doubling from retryBackoffBase up to retryBackoffCap.
func TestBackoffFullJitter(t *testing.T) {
	var bounds []time.Duration
	o := options{jitter: func(n time.Duration) time.Duration { bounds = append(bounds, n); return 0 }}
	for n := 1; n <= 40; n++ {
		o.backoff(n)
	}
	want := []time.Duration{250 * time.Millisecond, 500 * time.Millisecond, time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, retryBackoffCap, retryBackoffCap}
	for i, w := range want {
		if bounds[i] != w {
			t.Errorf("bound after attempt %d = %v, want %v", i+1, bounds[i], w)
		}
	}
	for i, b := range bounds {
		if b <= 0 || b > retryBackoffCap {
			t.Errorf("bound after attempt %d = %v, want within (0, %v]", i+1, b, retryBackoffCap)
		}
	}
}

// TestRetryForFromEnvironment: an environment's retryFor bounds the retries
// instead of the writer's default.
func TestRetryForFromEnvironment(t *testing.T) {
	errs := make([]error, 100)
	for i := range errs {
		errs[i] = unprocessable("Update is not a fast forward")
	}
	g := &fakeGit{head: "c0", content: values, refErrs: errs, t: t}
	env := dev
	env.RetryFor = "3s"
	_, err := newTestWriter(t, g, false).Apply(context.Background(), Request{Env: env, Updates: []Update{cartUpdate()}})
	if err == nil || !strings.Contains(err.Error(), ErrConflict.Error()) {
		t.Fatalf("err = %v, want ErrConflict", err)
	}
	// 250+500+1000 ms, then the 1250 ms left: five attempts in 3 s (the
	// writer's own 1 s would allow four).
	if n := len(g.writes) / 3; n != 5 {
		t.Errorf("%d attempts, want 5 within 3s", n)
	}
	env.RetryFor = "soon"
	if _, err := newTestWriter(t, &fakeGit{head: "c0", content: values, t: t}, false).Apply(context.Background(), Request{Env: env, Updates: []Update{cartUpdate()}}); err == nil || !strings.Contains(err.Error(), "retryFor") {
		t.Errorf("err = %v, want an error naming retryFor", err)
	}
}
