package promote

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/deployment-automator/automator/internal/config"
	"github.com/deployment-automator/automator/internal/gitops"
)

const values = `image:
  repository: prod.example/acme/cart
  tag: "1.0.0"
  digest: sha256:1111111111111111111111111111111111111111111111111111111111111111
`

func digest(c string) string { return "sha256:" + strings.Repeat(c, 64) }

// manifestsRepo is a local git repository whose main branch holds
// envs/dev/values.yaml with content.
func manifestsRepo(t *testing.T, content string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "envs/dev"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "envs/dev/values.yaml"), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"init", "-q", "-b", "main"}, {"add", "."}, {"-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "-m", "init"}} {
		if out, err := exec.Command("git", append([]string{"-C", dir}, args...)...).CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	return dir
}

// A dry run of a promotion into an environment with its own registry shows
// the diff a real run would make (the image under that registry) and copies
// nothing.
func TestDryRunPromotionIntoOtherRegistry(t *testing.T) {
	repo := manifestsRepo(t, values)
	w, err := gitops.NewLocalWriter([]gitops.Option{gitops.WithAuthor("t", "t@example.com")}, gitops.WithPusher(gitops.DryRunPusher{}))
	if err != nil {
		t.Fatal(err)
	}
	p := &Promoter{Writer: w, Copier: DryRunCopier{}}
	env := config.Environment{Name: "dev", Repo: repo, Branch: "main", Files: []string{"envs/*/values.yaml"}, Mode: "commit", Registry: "prod.example/acme"}
	u := gitops.Update{Service: "cart", Repository: "ghcr.io/acme/cart", Tag: "1.1.0", Digest: digest("a")}
	res, err := p.Promote(context.Background(), &Target{Env: env, Registry: env.Registry}, []gitops.Update{u})
	if err != nil {
		t.Fatal(err)
	}
	if d := res.Diff(); !strings.Contains(d, "+  tag: \"1.1.0\"") {
		t.Errorf("dry run diff:\n%s", d)
	}
}

func TestDryRunCopierReturnsSourceDigest(t *testing.T) {
	d, err := DryRunCopier{}.Copy(context.Background(), "ghcr.io/acme/cart@"+digest("a"), "prod.example/acme/cart:1.1.0")
	if err != nil || d != digest("a") {
		t.Errorf("Copy = %q, %v; want %s", d, err, digest("a"))
	}
	if _, err := (DryRunCopier{}).Copy(context.Background(), "ghcr.io/acme/cart:1.1.0", "prod.example/acme/cart:1.1.0"); err == nil {
		t.Error("a source without digest was accepted")
	}
}
