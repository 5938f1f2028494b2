package e2e_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/deployment-automator/automator/e2e/harness"
)

// TestWatchShardsPromoteEachTagOnce runs the built binary as three watcher
// processes at once, shards 0–2 named as a StatefulSet names its pods
// (--shard automator-I/3, as deploy/sharded does), over 300 repositories
// on the real registry, each pinned at 1.0.0 in its own values file of a
// commit environment. Every repository gets a new tag 1.1.0; after one
// cycle of each shard every file pins 1.1.0 and was changed by exactly one
// commit (no shard skipped a repository, none promoted another's), and a
// second cycle of each changes nothing.
func TestWatchShardsPromoteEachTagOnce(t *testing.T) {
	const repos, shards = 300, 3
	reg := harness.StartRegistry(t)
	gh := harness.StartGitHub(t)
	seed := newTagSeeder(t, reg)
	bin := automatorBinary(t)

	file := func(i int) string { return fmt.Sprintf("envs/prod/app-%03d.yaml", i) }
	repo := func(i int) string { return fmt.Sprintf("shard/app-%03d", i) }
	manifests := t.TempDir()
	var rules strings.Builder
	for i := range repos {
		p := filepath.Join(manifests, filepath.FromSlash(file(i)))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		values := fmt.Sprintf("image:\n  repository: %s\n  tag: \"1.0.0\"\n", reg.Ref(repo(i)))
		if err := os.WriteFile(p, []byte(values), 0o644); err != nil {
			t.Fatal(err)
		}
		seed.tag(repo(i), []string{"1.0.0", "1.1.0"})
		fmt.Fprintf(&rules, "    - name: app-%03d\n      image: %s\n      policy: {semver: \">=1.0.0\"}\n      environments: [prod]\n", i, reg.Ref(repo(i)))
	}
	seedCommit := gh.CreateRepo("acme", "manifests", "main", manifests)

	app := harness.NewGitRepo(t, t.TempDir())
	app.WriteFile("automator.yaml", `version: 1
registries:
  - host: `+reg.Host+`
    insecure: true
scan:
  enabled: false
environments:
  - name: prod
    repo: `+manifestRepo+`
    files: ["envs/prod/*.yaml"]
    mode: commit
watch:
  rules:
`+rules.String())
	app.Commit("watcher config")

	// Each replica has its own token, as each would have its own App
	// installation token: one token's hourly budget shared by three busy
	// writers would be the bottleneck, not the watchers.
	tokens := make([]string, shards)
	for i := range tokens {
		tokens[i] = fmt.Sprintf("ghp_shard%d%s", i, strings.Repeat("0", 30))
		gh.AddToken(tokens[i], "automator-bot")
	}
	cycle := func() time.Duration {
		t.Helper()
		cmds := make([]*exec.Cmd, shards)
		outs := make([]strings.Builder, shards)
		start := time.Now()
		for i := range shards {
			cmd := exec.Command(bin, "watch", "--once", fmt.Sprintf("--shard=automator-%d/%d", i, shards))
			cmd.Dir = app.Dir
			cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
			for k, v := range gh.Env(manifestRepo) {
				cmd.Env = append(cmd.Env, k+"="+v)
			}
			cmd.Env = append(cmd.Env, "GITHUB_TOKEN="+tokens[i])
			cmd.Stdout, cmd.Stderr = &outs[i], &outs[i]
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			cmds[i] = cmd
		}
		for i, cmd := range cmds {
			if err := cmd.Wait(); err != nil {
				t.Errorf("shard %d: %v\n%s", i, err, tail(outs[i].String(), 20))
			}
		}
		if t.Failed() {
			t.FailNow()
		}
		return time.Since(start)
	}

	reg.ResetRequests()
	gh.ResetRequests()
	took := cycle()
	head, _ := gh.RevParse(manifestRepo, "main")
	changed := map[string]int{}
	for _, f := range strings.Fields(gitDir(t, gh.GitDir(manifestRepo), "log", "--format=", "--name-only", seedCommit+".."+head)) {
		changed[f]++
	}
	for i := range repos {
		got, _ := gh.ReadFile(manifestRepo, "main", file(i))
		if !strings.Contains(got, "1.1.0") {
			t.Errorf("%s still pins %q, want 1.1.0: no shard promoted %s", file(i), got, repo(i))
		}
		if n := changed[file(i)]; n != 1 {
			t.Errorf("%s changed by %d commits, want exactly 1", file(i), n)
		}
	}
	if len(changed) != repos {
		t.Errorf("%d files changed, want %d", len(changed), repos)
	}
	t.Logf("3 shards × 100 repositories: %s for the concurrent cycle, %d registry requests (%d tag lists), %d GitHub API calls, %d commits on main",
		took.Round(time.Millisecond), len(reg.Requests()), reg.Count("GET", harness.KindTags), gh.APICalls(),
		len(strings.Fields(gitDir(t, gh.GitDir(manifestRepo), "rev-list", seedCommit+".."+head))))

	// A second cycle finds every shard's repositories up to date.
	cycle()
	if again, _ := gh.RevParse(manifestRepo, "main"); again != head {
		t.Errorf("a second cycle moved main %s → %s", head, again)
	}
}

func gitDir(t *testing.T, dir string, args ...string) string {
	t.Helper()
	out, err := exec.Command("git", append([]string{"--git-dir", dir}, args...)...).Output()
	if err != nil {
		t.Fatalf("git %v: %v", args, err)
	}
	return string(out)
}

// tail is the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
