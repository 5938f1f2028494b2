package e2e_test

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/deployment-automator/automator/e2e/harness"
)

// exampleWorkflow is what the e2e suite reads of a workflow in
// testdata/workflows: its triggers, and per job its needs, matrix, outputs,
// condition and the steps that use this action.
type exampleWorkflow struct {
	On   map[string]any `yaml:"on"`
	Jobs map[string]struct {
		Needs    any               `yaml:"needs"`
		If       string            `yaml:"if"`
		Outputs  map[string]string `yaml:"outputs"`
		Strategy struct {
			Matrix any `yaml:"matrix"`
		} `yaml:"strategy"`
		Steps []struct {
			ID   string            `yaml:"id"`
			Uses string            `yaml:"uses"`
			With map[string]string `yaml:"with"`
		} `yaml:"steps"`
	} `yaml:"jobs"`
}

// workflowOrder is the order the examples run in, each building on what
// the earlier ones left in the registry and the manifests repository.
var workflowOrder = []string{"single-job.yml", "fan-out.yml", "release.yml", "promote-prod.yml", "status.yml", "chatops.yml"}

// dispatchInputs are the workflow_dispatch inputs the test gives each
// example (inputs with a default take it).
var dispatchInputs = map[string]map[string]string{
	"release.yml": {"candidate": "2.1.1-rc1", "version": "2.1.1", "service": "cart"},
}

var expressionRE = regexp.MustCompile(`\$\{\{\s*(.*?)\s*\}\}`)

// TestWorkflows runs every example workflow as written — the automator
// steps are taken from the YAML of testdata/workflows (which README's
// examples must equal byte for byte), their `with:` expressions evaluated
// as the runner would — against the GitHub fake and the real registry
// (which stands in for ghcr.io). Every step must exit 0, or 3 with only
// the sample's vulnerable frontend blocked.
func TestWorkflows(t *testing.T) {
	files, err := filepath.Glob("../testdata/workflows/*.yml")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if !slices.Contains(workflowOrder, filepath.Base(f)) {
			t.Fatalf("%s is not run by TestWorkflows: add it to workflowOrder", f)
		}
	}
	checkReadmeWorkflows(t)

	s := newShop(t)
	repo := harness.EventRepo{FullName: shopRepo, DefaultBranch: "main"}
	s.app.WriteFile("libs/common/common.txt", "shared library v9\n")
	change := s.app.Commit("common: v9")
	s.app.PushTo(s.gh, shopRepo)

	for _, name := range workflowOrder {
		raw, err := os.ReadFile("../testdata/workflows/" + name)
		if err != nil {
			t.Fatal(err)
		}
		var wf exampleWorkflow
		if err := yaml.Unmarshal(raw, &wf); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for _, ev := range s.workflowEvents(t, name, wf, repo, change) {
			t.Logf("%s on %s", name, ev.Name+" "+ev.Ref)
			s.runWorkflow(t, name, wf, ev)
			if pulls := s.openPull(t, "automator/staging"); pulls != nil && ev.Ref == "refs/tags/v2.1.1-rc1" {
				s.gh.MergePull(manifestRepo, pulls.Number) // reviewers approve staging
			}
		}
	}
	prod, ok := s.gh.ReadFile(manifestRepo, "automator/prod", "envs/prod/kustomization.yaml")
	if !ok || !strings.Contains(prod, s.headDigest(s.reg.Ref("acme/cart")+":2.1.1")) {
		t.Errorf("the workflows left no prod PR pinning cart 2.1.1:\n%s", prod)
	}

	// chatops.yml answered the maintainer's /automator status on the prod
	// pull request with the matrix.
	if pr := s.openPull(t, "automator/prod"); pr != nil {
		cs := s.gh.Comments(manifestRepo, pr.Number)
		if len(cs) < 2 || !strings.Contains(cs[len(cs)-1].Body, "prod") || !strings.Contains(cs[len(cs)-1].Body, "sha256:") {
			t.Errorf("chatops.yml left no status answer on prod's pull request: %+v", cs)
		}
	}

	// A TAG@DIGEST the registry contradicts is refused (exit 2), and
	// nothing is written.
	env := s.gh.Env(manifestRepo)
	env["REG_USER"], env["REG_PASS"] = regUser, regPassword
	other := s.headDigest(s.reg.Ref("acme/checkout") + ":2.1.1-rc1")
	writes := len(s.gh.Writes())
	r := s.exec(env, "promote", "--env", "prod", "--set", "cart="+s.reg.Ref("acme/cart")+":2.1.1@"+other)
	if r.code != 2 || !strings.Contains(r.stderr, "not "+other) || len(s.gh.Writes()) != writes {
		t.Errorf("a contradicted --set: exit %d, %d writes\n%s", r.code, len(s.gh.Writes())-writes, r.stderr)
	}
}

// openPull is the open pull request from head in the manifests repository.
func (s *shop) openPull(t *testing.T, head string) *harness.PullRequest {
	for _, p := range s.gh.PullRequests(manifestRepo) {
		if p.Head == head && p.State == "open" {
			return &p
		}
	}
	return nil
}

// workflowEvents are the events wf's triggers name: a push to main, a
// release-candidate tag, a manual dispatch (which also stands for a
// schedule).
func (s *shop) workflowEvents(t *testing.T, name string, wf exampleWorkflow, repo harness.EventRepo, commit string) []harness.Event {
	var out []harness.Event
	if push, ok := wf.On["push"].(map[string]any); ok {
		if push["branches"] != nil {
			out = append(out, s.gh.PushEvent(repo, "refs/heads/main", s.initial, commit, false))
		}
		if push["tags"] != nil {
			s.app.Git("tag", "v2.1.1-rc1", commit)
			s.app.PushTo(s.gh, shopRepo)
			out = append(out, s.gh.PushEvent(repo, "refs/tags/v2.1.1-rc1", zeroSHA, commit, false))
		}
	}
	if _, ok := wf.On["issue_comment"]; ok {
		// A maintainer asks on the open prod pull request of the manifests
		// repository, where the chatops workflow lives.
		prod := s.openPull(t, "automator/prod")
		if prod == nil {
			t.Fatalf("%s: no open prod pull request to comment on", name)
		}
		s.gh.SetRole(manifestRepo, "mona", "maintain")
		id := s.gh.AddComment(manifestRepo, prod.Number, "mona", "Looks right.\n/automator status")
		out = append(out, s.gh.CommentEvent(harness.EventRepo{FullName: manifestRepo, DefaultBranch: "main"}, "created", prod.Number, id))
	}
	if _, ok := wf.On["workflow_dispatch"]; ok {
		out = append(out, s.gh.WorkflowDispatchEvent(repo, "refs/heads/main", commit, dispatchInputs[name]))
	} else if _, ok := wf.On["schedule"]; ok {
		t.Fatalf("%s: a schedule without workflow_dispatch is not run by this test", name)
	}
	if len(out) == 0 {
		t.Fatalf("%s: no trigger this test runs (on: %v)", name, wf.On)
	}
	return out
}

// runWorkflow runs wf's jobs in the order of their needs, and in each the
// steps that use this action (a matrix job once per matrix entry).
func (s *shop) runWorkflow(t *testing.T, name string, wf exampleWorkflow, ev harness.Event) {
	t.Helper()
	jobOutputs := map[string]map[string]string{}
	done := map[string]bool{}
	for len(done) < len(wf.Jobs) {
		progressed := false
		for _, jobName := range slices.Sorted(maps.Keys(wf.Jobs)) {
			job := wf.Jobs[jobName]
			needs := needsOf(job.Needs)
			if done[jobName] || slices.ContainsFunc(needs, func(n string) bool { return !done[n] }) {
				continue
			}
			done[jobName], progressed = true, true
			vars := map[string]string{"github.repository_owner": "acme"}
			if ev.Name == "issue_comment" {
				vars["github.event.comment.body"], vars["github.event.comment.user.type"] = "Looks right.\n/automator status", "User"
			}
			for k, v := range workflowInputs(wf, name, ev) {
				vars["inputs."+k] = v
			}
			for _, n := range needs {
				for k, v := range jobOutputs[n] {
					vars["needs."+n+".outputs."+k] = v
				}
			}
			if job.If != "" && !evalCondition(t, job.If, vars) {
				continue
			}
			entries := []map[string]any{nil}
			if m, ok := job.Strategy.Matrix.(string); ok {
				entries = matrixEntries(t, evalExpr(t, m, vars))
			}
			stepOutputs := map[string]string{}
			for _, entry := range entries {
				for k, v := range entry {
					vars["matrix."+k] = fmt.Sprint(v)
				}
				for i, step := range job.Steps {
					if !strings.HasPrefix(step.Uses, "deployment-automator/automator@") {
						continue
					}
					with := map[string]string{}
					for k, v := range step.With {
						with[k] = strings.ReplaceAll(evalExpr(t, v, vars), "ghcr.io/", s.reg.Host+"/")
					}
					r := s.exec(s.workflowEnv(t, ev, with))
					where := name + " jobs." + jobName + ".steps[" + strconv.Itoa(i) + "] on " + ev.Name + " " + ev.Ref
					var blocked []map[string]any
					if r.outputs["blocked"] != "" {
						r.output(t, "blocked", &blocked)
					}
					onlyFrontend := len(blocked) > 0 && !slices.ContainsFunc(blocked, func(b map[string]any) bool { return b["service"] != "frontend" })
					if r.code != 0 && (r.code != 3 || !onlyFrontend) {
						t.Fatalf("%s: exit %d (blocked %v)\nstdout:\n%s\nstderr:\n%s", where, r.code, blocked, r.stdout, r.stderr)
					}
					for k, v := range r.outputs {
						stepOutputs["steps."+step.ID+".outputs."+k] = v
					}
				}
			}
			outs := map[string]string{}
			for k, v := range job.Outputs {
				outs[k] = evalExpr(t, v, stepOutputs)
			}
			jobOutputs[jobName] = outs
		}
		if !progressed {
			t.Fatalf("%s: jobs with unmet needs: %v", name, wf.Jobs)
		}
	}
	_ = os.RemoveAll(filepath.Join(s.app.Dir, "results"))
}

// workflowEnv is the environment the runner gives the action's container
// for ev and a step's evaluated `with:`.
func (s *shop) workflowEnv(t *testing.T, ev harness.Event, with map[string]string) map[string]string {
	env := s.gh.ActionsEnv(t, shopRepo, ev, s.app.Dir)
	delete(env, "GITHUB_TOKEN")
	for k, v := range actionInputs(t, s.gh.Token, with) {
		env[k] = v
	}
	env["REG_USER"], env["REG_PASS"] = regUser, regPassword
	env["DOCKER_CONFIG"] = t.TempDir()
	return env
}

// workflowInputs are the inputs context of a run of wf for ev: on a
// dispatch, the test's inputs over the declared defaults; on other events
// every declared input is empty, as on GitHub.
func workflowInputs(wf exampleWorkflow, name string, ev harness.Event) map[string]string {
	out := map[string]string{}
	wd, _ := wf.On["workflow_dispatch"].(map[string]any)
	declared, _ := wd["inputs"].(map[string]any)
	for k, v := range declared {
		out[k] = ""
		if ev.Name == "workflow_dispatch" {
			if d, ok := v.(map[string]any)["default"].(string); ok {
				out[k] = d
			}
		}
	}
	if ev.Name == "workflow_dispatch" {
		for k, v := range dispatchInputs[name] {
			out[k] = v
		}
	}
	return out
}

// evalExpr replaces every ${{ … }} of v with its value in vars: the
// contexts the examples use (inputs, github.repository_owner, matrix,
// needs and steps outputs, fromJSON of one of those); vars and secrets
// are empty, as in a repository that has not set them. Anything else
// fails the test, so an example using more is noticed.
func evalExpr(t *testing.T, v string, vars map[string]string) string {
	return expressionRE.ReplaceAllStringFunc(v, func(m string) string {
		expr := expressionRE.FindStringSubmatch(m)[1]
		if inner, ok := strings.CutPrefix(expr, "fromJSON("); ok {
			expr = strings.TrimSuffix(inner, ")")
		}
		if strings.HasPrefix(expr, "vars.") || strings.HasPrefix(expr, "secrets.") {
			return ""
		}
		val, ok := vars[expr]
		if !ok {
			t.Fatalf("expression %q: unknown to this test (have %v)", expr, slices.Sorted(maps.Keys(vars)))
		}
		return val
	})
}

// evalCondition evaluates a job's `if:`: terms joined by &&, each
// X == 'Y', X != 'Y' or contains(X, 'Y').
func evalCondition(t *testing.T, cond string, vars map[string]string) bool {
	for _, term := range strings.Split(cond, "&&") {
		term = strings.TrimSpace(term)
		value := func(x string) string { return evalExpr(t, "${{ "+strings.TrimSpace(x)+" }}", vars) }
		literal := func(y string) string { return strings.Trim(strings.TrimSpace(y), "'") }
		if inner, ok := strings.CutPrefix(term, "contains("); ok {
			x, y, _ := strings.Cut(strings.TrimSuffix(inner, ")"), ",")
			if !strings.Contains(value(x), literal(y)) {
				return false
			}
			continue
		}
		if left, right, ok := strings.Cut(term, " != "); ok {
			if value(left) == literal(right) {
				return false
			}
			continue
		}
		left, right, ok := strings.Cut(term, " == ")
		if !ok {
			t.Fatalf("condition %q: only X == 'Y', X != 'Y' and contains(X, 'Y') joined by && are understood here", cond)
		}
		if value(left) != literal(right) {
			return false
		}
	}
	return true
}

func matrixEntries(t *testing.T, raw string) []map[string]any {
	var m struct {
		Include []map[string]any `yaml:"include"`
	}
	if err := yaml.Unmarshal([]byte(raw), &m); err != nil || len(m.Include) == 0 {
		t.Fatalf("matrix %q: %v", raw, err)
	}
	return m.Include
}

func needsOf(v any) []string {
	switch n := v.(type) {
	case string:
		return []string{n}
	case []any:
		var out []string
		for _, x := range n {
			out = append(out, x.(string))
		}
		return out
	}
	return nil
}

// checkReadmeWorkflows: every workflow in README (a yaml block with jobs:)
// is one of testdata/workflows, byte for byte, so running those runs it.
func checkReadmeWorkflows(t *testing.T) {
	raw, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := regexp.MustCompile("(?s)```yaml\n(.*?)```").FindAllStringSubmatch(string(raw), -1)
	n := 0
	for _, b := range blocks {
		if !strings.Contains(b[1], "\njobs:\n") {
			continue
		}
		n++
		found := false
		for _, name := range workflowOrder {
			if f, err := os.ReadFile("../testdata/workflows/" + name); err == nil && string(f) == b[1] {
				found = true
			}
		}
		if !found {
			t.Errorf("README workflow is not one of testdata/workflows:\n%s", b[1])
		}
	}
	if n == 0 {
		t.Error("no workflow found in README")
	}
}
