package e2e_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/deployment-automator/automator/e2e/harness"
	"github.com/deployment-automator/automator/internal/actions"
)

const zeroSHA = "0000000000000000000000000000000000000000"

// planConfig: cart and api build from their own folders, web builds from the
// repository root and copies libs/common, worker depends on api by name.
const planConfig = `version: 1
registry: ghcr.io/acme
services:
  - name: cart
    context: src/cart
    image: ghcr.io/acme/cart
  - name: api
    context: src/api
    image: ghcr.io/acme/api
  - name: web
    context: .
    dockerfile: src/web/Dockerfile
    image: ghcr.io/acme/web
  - name: worker
    context: src/worker
    image: ghcr.io/acme/worker
    dependsOn: [api]
`

// newPlanRepo creates the sample monorepo with one commit on main.
func newPlanRepo(t *testing.T) *harness.GitRepo {
	t.Helper()
	r := harness.NewGitRepo(t, "")
	r.WriteFile("automator.yaml", planConfig)
	r.WriteFile("src/cart/Dockerfile", "FROM alpine\nCOPY . /app\n")
	r.WriteFile("src/cart/.dockerignore", "*.md\n")
	r.WriteFile("src/cart/main.go", "package main\n")
	r.WriteFile("src/cart/util.go", "package main\n")
	r.WriteFile("src/cart/README.md", "# cart\n")
	r.WriteFile("src/api/Dockerfile", "FROM golang AS build\nCOPY . /src\nRUN go build\nFROM scratch\nCOPY --from=build /out /app\n")
	r.WriteFile("src/api/main.go", "package main\n")
	r.WriteFile("src/api/old.go", "package main\n")
	r.WriteFile("src/web/Dockerfile", "FROM node AS build\nCOPY libs/common /libs/common\nCOPY src/web /web\nFROM nginx\nCOPY --from=build /web/dist /usr/share/nginx/html\n")
	r.WriteFile("src/web/index.js", "1\n")
	r.WriteFile("src/worker/Dockerfile", "FROM alpine\nCOPY . /w\n")
	r.WriteFile("src/worker/run.sh", "#!/bin/sh\n")
	r.WriteFile("libs/common/common.go", "package common\n")
	r.WriteFile("docs/index.md", "docs\n")
	r.Commit("initial")
	return r
}

type planOutput struct {
	Base     string `json:"base"`
	Head     string `json:"head"`
	Services []struct {
		Name       string `json:"name"`
		Image      string `json:"image"`
		Context    string `json:"context"`
		Dockerfile string `json:"dockerfile"`
		Reasons    []struct {
			File string `json:"file"`
			Rule string `json:"rule"`
		} `json:"reasons"`
	} `json:"services"`
}

func (p planOutput) names() []string {
	out := []string{}
	for _, s := range p.Services {
		out = append(out, s.Name)
	}
	return out
}

// runPlan runs the built binary in dir with env (on top of a clean
// environment without GITHUB_* variables) and returns stdout, stderr and
// the exit code.
func runPlan(t *testing.T, dir string, env map[string]string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(automatorBinary(t), append([]string{"plan"}, args...)...)
	cmd.Dir = dir
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "GITHUB_") && !strings.HasPrefix(kv, "CI=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("running automator plan: %v", err)
	}
	return stdout.String(), stderr.String(), code
}

func planJSON(t *testing.T, dir string, env map[string]string, args ...string) planOutput {
	t.Helper()
	stdout, stderr, code := runPlan(t, dir, env, append(args, "--format", "json")...)
	if code != 0 {
		t.Fatalf("automator plan %v: exit %d\nstderr: %s", args, code, stderr)
	}
	// In Actions, stdout also carries workflow commands (::add-mask::…) that
	// the runner consumes; the plan is the rest.
	var doc []string
	for _, line := range strings.Split(stdout, "\n") {
		if !strings.HasPrefix(line, "::") {
			doc = append(doc, line)
		}
	}
	var out planOutput
	if err := json.Unmarshal([]byte(strings.Join(doc, "\n")), &out); err != nil {
		t.Fatalf("decoding plan JSON: %v\n%s", err, stdout)
	}
	return out
}

func wantServices(t *testing.T, got planOutput, want ...string) {
	t.Helper()
	if want == nil {
		want = []string{}
	}
	if !slices.Equal(got.names(), want) {
		t.Errorf("selected %v, want %v\nplan: %+v", got.names(), want, got)
	}
}

// TestPlanRanges covers --base/--head on real histories: a plain change, a
// shared library pulled in only through a Dockerfile COPY, a .dockerignore'd
// file, a rename across services, a deletion, a merge commit and a change of
// a service's automator.yaml entry.
func TestPlanRanges(t *testing.T) {
	r := newPlanRepo(t)
	c0 := r.Head()

	r.WriteFile("src/cart/main.go", "package main // v2\n")
	c1 := r.Commit("cart change")
	r.WriteFile("libs/common/common.go", "package common // v2\n")
	c2 := r.Commit("shared lib change")
	r.WriteFile("src/cart/README.md", "# cart v2\n")
	c3 := r.Commit("docs only, ignored by .dockerignore")
	r.Rename("src/cart/util.go", "src/api/util.go")
	c4 := r.Commit("move util from cart to api")
	r.Remove("src/api/old.go")
	c5 := r.Commit("delete old api file")

	r.Branch("feature")
	r.WriteFile("src/web/index.js", "2\n")
	r.Commit("web feature")
	r.Checkout("main")
	r.WriteFile("docs/index.md", "docs v2\n")
	beforeMerge := r.Commit("docs on main")
	r.Git("merge", "--no-ff", "-q", "-m", "merge feature", "feature")
	merge := r.Head()

	r.WriteFile("automator.yaml", strings.Replace(planConfig, "    image: ghcr.io/acme/cart\n", "    image: ghcr.io/acme/cart\n    args: {VERSION: \"2\"}\n", 1))
	cfgChange := r.Commit("configure cart build args")

	tests := []struct {
		name       string
		base, head string
		want       []string
	}{
		{"plain change in a service folder", c0, c1, []string{"cart"}},
		{"shared library only through Dockerfile COPY", c1, c2, []string{"web"}},
		{"dockerignored file", c2, c3, nil},
		{"rename across services, dependents follow", c3, c4, []string{"api", "cart", "worker"}},
		{"deletion", c4, c5, []string{"api", "worker"}},
		{"merge commit", beforeMerge, merge, []string{"web"}},
		{"automator.yaml entry", merge, cfgChange, []string{"cart"}},
		{"whole history", c0, cfgChange, []string{"api", "cart", "web", "worker"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := planJSON(t, r.Dir, nil, "--base", tt.base, "--head", tt.head)
			wantServices(t, got, tt.want...)
			if got.Base != tt.base || got.Head != tt.head {
				t.Errorf("base/head = %s/%s, want %s/%s", got.Base, got.Head, tt.base, tt.head)
			}
		})
	}

	t.Run("json fields", func(t *testing.T) {
		got := planJSON(t, r.Dir, nil, "--base", c1, "--head", c2)
		if len(got.Services) != 1 {
			t.Fatalf("services = %+v", got.Services)
		}
		s := got.Services[0]
		if s.Image != "ghcr.io/acme/web" || s.Context != "." || s.Dockerfile != "src/web/Dockerfile" {
			t.Errorf("service = %+v", s)
		}
		if len(s.Reasons) == 0 || s.Reasons[0].File != "libs/common/common.go" || !strings.HasPrefix(s.Reasons[0].Rule, "COPY libs/common") {
			t.Errorf("reasons = %+v", s.Reasons)
		}
	})

	t.Run("text table", func(t *testing.T) {
		stdout, stderr, code := runPlan(t, r.Dir, nil, "--base", c1, "--head", c2)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		if !strings.Contains(stdout, "SERVICE") || !strings.Contains(stdout, "web") || !strings.Contains(stdout, "libs/common/common.go") {
			t.Errorf("text output:\n%s", stdout)
		}
	})

	t.Run("unknown revision exits 2", func(t *testing.T) {
		_, stderr, code := runPlan(t, r.Dir, nil, "--base", "no-such-rev", "--head", c1)
		if code != 2 || !strings.Contains(stderr, "no-such-rev") {
			t.Errorf("exit %d, stderr %s", code, stderr)
		}
	})

	t.Run("outside Actions without a range exits 2", func(t *testing.T) {
		_, stderr, code := runPlan(t, r.Dir, nil)
		if code != 2 || !strings.Contains(stderr, "--base") {
			t.Errorf("exit %d, stderr %s", code, stderr)
		}
	})

	t.Run("--all", func(t *testing.T) {
		wantServices(t, planJSON(t, r.Dir, nil, "--all"), "api", "cart", "web", "worker")
	})
}

// TestPlanEvents runs plan the way a workflow step does: GITHUB_EVENT_NAME
// and the payload of each event, and reads GITHUB_OUTPUT back.
func TestPlanEvents(t *testing.T) {
	gh := harness.StartGitHub(t)
	repo := harness.EventRepo{FullName: "acme/app", DefaultBranch: "main"}
	r := newPlanRepo(t)
	base := r.Head()

	// A feature branch that touches cart while main moves on with api.
	r.Branch("feature")
	r.WriteFile("src/cart/main.go", "package main // feature\n")
	feature := r.Commit("cart feature")
	r.Checkout("main")
	r.WriteFile("src/api/main.go", "package main // main moved\n")
	mainTip := r.Commit("api on main")

	// A force push: fp pointed at an api change, then was rewritten to a cart change.
	r.Checkout(base)
	r.Branch("fp")
	r.WriteFile("src/api/main.go", "package main // abandoned\n")
	abandoned := r.Commit("api change, later force-pushed away")
	r.Git("reset", "-q", "--hard", base)
	r.WriteFile("src/cart/main.go", "package main // rewritten\n")
	rewritten := r.Commit("cart change")
	r.Checkout("main")

	// A merge queue head on top of main.
	r.Branch("queue")
	r.WriteFile("libs/common/common.go", "package common // queued\n")
	queued := r.Commit("queued change")
	r.Checkout("main")

	r.Tag("v1.2.3")
	r.Tag("cart/v1.2.3")

	tests := []struct {
		name string
		ev   harness.Event
		want []string
	}{
		{"plain push", gh.PushEvent(repo, "refs/heads/main", base, mainTip, false), []string{"api", "worker"}},
		{"new branch diffs against the merge base with main", gh.PushEvent(repo, "refs/heads/feature", zeroSHA, feature, false), []string{"cart"}},
		{"force push diffs against the merge base", gh.PushEvent(repo, "refs/heads/fp", abandoned, rewritten, true), []string{"cart"}},
		{"pull request uses the merge base", gh.PullRequestEvent(repo, "opened", 7, "main", mainTip, "feature", feature, feature), []string{"cart"}},
		{"merge group", gh.MergeGroupEvent(repo, "refs/heads/main", mainTip, queued), []string{"web"}},
		{"tag v1.2.3 selects all", gh.PushEvent(repo, "refs/tags/v1.2.3", zeroSHA, mainTip, false), []string{"api", "cart", "web", "worker"}},
		{"tag cart/v1.2.3 selects cart", gh.PushEvent(repo, "refs/tags/cart/v1.2.3", zeroSHA, mainTip, false), []string{"cart"}},
		{"dispatch with services", gh.WorkflowDispatchEvent(repo, "refs/heads/main", mainTip, map[string]string{"services": "web, api"}), []string{"api", "web"}},
		{"dispatch with all", gh.WorkflowDispatchEvent(repo, "refs/heads/main", mainTip, map[string]string{"services": "all"}), []string{"api", "cart", "web", "worker"}},
		{"deleted branch selects nothing", gh.PushEvent(repo, "refs/heads/fp", rewritten, zeroSHA, false), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := gh.ActionsEnv(t, repo.FullName, tt.ev, r.Dir)
			delete(env, "GITHUB_TOKEN") // history is local: no API needed
			got := planJSON(t, r.Dir, env)
			wantServices(t, got, tt.want...)

			data, err := os.ReadFile(env["GITHUB_OUTPUT"])
			if err != nil {
				t.Fatal(err)
			}
			outs, err := actions.ParseOutputs(string(data))
			if err != nil {
				t.Fatalf("parsing GITHUB_OUTPUT: %v\n%s", err, data)
			}
			var services []string
			if err := json.Unmarshal([]byte(outs["services"]), &services); err != nil {
				t.Fatalf("services output %q: %v", outs["services"], err)
			}
			want := tt.want
			if want == nil {
				want = []string{}
			}
			if !slices.Equal(services, want) {
				t.Errorf("services output = %v, want %v", services, want)
			}
			var matrix struct {
				Include []struct {
					Service string `json:"service"`
				} `json:"include"`
			}
			if err := json.Unmarshal([]byte(outs["matrix"]), &matrix); err != nil {
				t.Fatalf("matrix output %q: %v", outs["matrix"], err)
			}
			if len(matrix.Include) != len(want) {
				t.Errorf("matrix = %s, want %d entries", outs["matrix"], len(want))
			}
			for i, m := range matrix.Include {
				if m.Service != want[i] {
					t.Errorf("matrix entry %d = %q, want %q", i, m.Service, want[i])
				}
			}
			if wantAny := len(want) > 0; outs["any"] != map[bool]string{true: "true", false: "false"}[wantAny] {
				t.Errorf("any = %q, want %v", outs["any"], wantAny)
			}
		})
	}

	t.Run("dispatch with an unknown service exits 2", func(t *testing.T) {
		env := gh.ActionsEnv(t, repo.FullName, gh.WorkflowDispatchEvent(repo, "refs/heads/main", mainTip, map[string]string{"services": "nope"}), r.Dir)
		_, stderr, code := runPlan(t, r.Dir, env)
		if code != 2 || !strings.Contains(stderr, "unknown service") {
			t.Errorf("exit %d, stderr %s", code, stderr)
		}
	})
}

// TestPlanShallowClone clones with --depth 1 from a file:// URL, as
// actions/checkout does, and plans a new branch and a pull request: the
// default branch and the missing history must be fetched and deepened.
func TestPlanShallowClone(t *testing.T) {
	gh := harness.StartGitHub(t)
	repo := harness.EventRepo{FullName: "acme/app", DefaultBranch: "main"}
	up := newPlanRepo(t)
	for i := range 30 { // enough history that depth 1 does not reach the merge base
		up.WriteFile("docs/log.md", strings.Repeat("x", i+1)+"\n")
		up.Commit("docs")
	}
	up.Branch("feature")
	up.WriteFile("src/cart/main.go", "package main // feature\n")
	up.Commit("cart 1")
	for i := range 15 {
		up.WriteFile("src/cart/notes.go", strings.Repeat("// n\n", i+1))
		up.Commit("cart more")
	}
	feature := up.Head()
	up.Checkout("main")
	up.WriteFile("src/api/main.go", "package main // main moved\n")
	mainTip := up.Commit("api on main")

	t.Run("new branch", func(t *testing.T) {
		clone := harness.Clone(t, up.FileURL(), harness.Depth(1), harness.CloneBranch("feature"))
		if out := clone.Git("rev-parse", "--is-shallow-repository"); out != "true" {
			t.Fatalf("clone is not shallow: %s", out)
		}
		env := gh.ActionsEnv(t, repo.FullName, gh.PushEvent(repo, "refs/heads/feature", zeroSHA, feature, false), clone.Dir)
		delete(env, "GITHUB_TOKEN")
		wantServices(t, planJSON(t, clone.Dir, env), "cart")
	})
	t.Run("pull request", func(t *testing.T) {
		clone := harness.Clone(t, up.FileURL(), harness.Depth(1), harness.CloneBranch("feature"))
		env := gh.ActionsEnv(t, repo.FullName, gh.PullRequestEvent(repo, "opened", 3, "main", mainTip, "feature", feature, feature), clone.Dir)
		delete(env, "GITHUB_TOKEN")
		wantServices(t, planJSON(t, clone.Dir, env), "cart")
	})
	t.Run("base not in the clone", func(t *testing.T) {
		clone := harness.Clone(t, up.FileURL(), harness.Depth(1), harness.CloneBranch("main"))
		got := planJSON(t, clone.Dir, nil, "--base", feature, "--head", mainTip)
		// feature..main: cart's feature commits are undone, api moved.
		wantServices(t, got, "api", "cart", "worker")
	})
	t.Run("no history: GitHub compare API", func(t *testing.T) {
		gh.CreateRepo("acme", "app", "main", "")
		up.PushTo(gh, "acme/app")
		clone := harness.Clone(t, up.FileURL(), harness.Depth(1), harness.CloneBranch("feature"))
		clone.Git("remote", "remove", "origin")
		env := gh.ActionsEnv(t, repo.FullName, gh.PullRequestEvent(repo, "opened", 3, "main", mainTip, "feature", feature, feature), clone.Dir)
		before := gh.Calls("GET /repos/{owner}/{repo}/compare/{basehead...}")
		wantServices(t, planJSON(t, clone.Dir, env), "cart")
		if gh.APICalls() == 0 || gh.Calls("GET /repos/{owner}/{repo}/compare/{basehead...}") == before {
			t.Errorf("the compare API was not called (API calls: %d)", gh.APICalls())
		}
	})
	t.Run("no history and no API fails clearly", func(t *testing.T) {
		clone := harness.Clone(t, up.FileURL(), harness.Depth(1), harness.CloneBranch("feature"))
		clone.Git("remote", "remove", "origin")
		env := gh.ActionsEnv(t, repo.FullName, gh.PullRequestEvent(repo, "opened", 3, "main", mainTip, "feature", feature, feature), clone.Dir)
		delete(env, "GITHUB_TOKEN")
		stdout, stderr, code := runPlan(t, clone.Dir, env, "--format", "json")
		if code == 0 || !strings.Contains(stderr, "compare API") {
			t.Errorf("exit %d\nstdout %s\nstderr %s", code, stdout, stderr)
		}
	})
}
