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
// on the real registry, each pinned at 1.0.0 in one values file of a commit
// environment. Every repository gets a new tag 1.1.0; after one cycle of
// each shard, racing for the same branch, the file pins 1.1.0 for every
// repository and each repository's tag was changed by exactly one commit
// (no shard skipped a repository, none promoted another's), and a second
// cycle of each changes nothing.
func TestWatchShardsPromoteEachTagOnce(t *testing.T) {
	const repos, shards = 300, 3
	reg := harness.StartRegistry(t)
	gh := harness.StartGitHub(t)
	seed := newTagSeeder(t, reg)
	bin := automatorBinary(t)

	repo := func(i int) string { return fmt.Sprintf("shard/app-%03d", i) }
	const file = "envs/prod/values.yaml"
	var values, rules strings.Builder
	for i := range repos {
		fmt.Fprintf(&values, "app-%03d:\n  image:\n    repository: %s\n    tag: \"1.0.0\"\n", i, reg.Ref(repo(i)))
		seed.tag(repo(i), []string{"1.0.0", "1.1.0"})
		fmt.Fprintf(&rules, "    - name: app-%03d\n      image: %s\n      policy: {semver: \">=1.0.0\"}\n      environments: [prod]\n", i, reg.Ref(repo(i)))
	}
	manifests := t.TempDir()
	if err := os.MkdirAll(filepath.Join(manifests, "envs/prod"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(manifests, file), []byte(values.String()), 0o644); err != nil {
		t.Fatal(err)
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
    files: [`+file+`]
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
		gh.AddToken(tokens[i], fmt.Sprintf("automator-shard-%d", i))
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
	// Which repositories each commit moved: with one line of context, a
	// changed tag line follows its repository line (and the removed line).
	promoted := map[string]int{}
	for _, c := range strings.Fields(gitDir(t, gh.GitDir(manifestRepo), "rev-list", seedCommit+".."+head)) {
		repoLine := ""
		for _, l := range strings.Split(gitDir(t, gh.GitDir(manifestRepo), "show", "--format=", "-U1", c), "\n") {
			switch {
			case strings.HasPrefix(l, " ") && strings.Contains(l, "repository: "):
				repoLine = strings.TrimSpace(strings.SplitN(l, "repository: ", 2)[1])
			case strings.HasPrefix(l, "+    tag: ") && repoLine != "":
				promoted[repoLine]++
				repoLine = ""
			}
		}
	}
	got, _ := gh.ReadFile(manifestRepo, "main", file)
	for i := range repos {
		if n := promoted[reg.Ref(repo(i))]; n != 1 {
			t.Errorf("%s promoted by %d commits, want exactly 1", repo(i), n)
		}
	}
	if n := strings.Count(got, "tag: \"1.1.0"); n != repos {
		t.Errorf("main pins 1.1.0 for %d repositories, want %d:\n%s", n, repos, got)
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
