package e2e_test

import (
	"strings"
	"testing"

	"github.com/deployment-automator/automator/e2e/harness"
)

const holdsValues = "envs/prod/values.yaml"

// newHoldsShop is a shop for holds: prod is a commit-mode environment of
// the GitHub fake's manifests repository whose values file pins two watched
// images of the real registry, vendor/payments 1.2.0 and vendor/ledger
// 1.0.0, by tag; scanning is off (the images are random).
func newHoldsShop(t *testing.T) *shop {
	t.Helper()
	values := strings.Replace(timedValues, `tag: "1.0.0"`, `tag: "1.2.0"`, 1)
	return newTimedShop(t, func(*shop) map[string]string { return map[string]string{holdsValues: values} }, func(*shop) string {
		return timedConfig + `  - {name: prod, repo: ` + manifestRepo + `, files: [` + holdsValues + `], mode: commit}
watch:
  rules:
    - {name: payments, image: {{REG}}/vendor/payments, policy: {semver: ">=1.0.0"}, environments: [prod]}
    - {name: ledger, image: {{REG}}/vendor/ledger, policy: {semver: ">=1.0.0"}, environments: [prod]}
`
	})
}

// cmd runs one automator command as alice, failing the test on a non-zero exit.
func (s *shop) cmd(args ...string) runResult {
	s.t.Helper()
	env := s.cliEnv()
	env["GITHUB_ACTOR"] = "alice"
	r := s.exec(env, append([]string{"--log-format", "json"}, args...)...)
	if r.code != 0 {
		s.t.Fatalf("automator %v: exit %d\nstdout:\n%s\nstderr:\n%s", args, r.code, r.stdout, r.stderr)
	}
	return r
}

// tags returns the tags prod's values file pins for payments and ledger
// (without the digest automator writes after the tag).
func (s *shop) tags() (payments, ledger string) {
	s.t.Helper()
	text, ok := s.gh.ReadFile(manifestRepo, "main", holdsValues)
	if !ok {
		s.t.Fatalf("%s is missing", holdsValues)
	}
	_, rest, _ := strings.Cut(text, "payments:")
	payments, _, _ = strings.Cut(between(rest, `tag: "`, `"`), "@")
	_, rest, _ = strings.Cut(text, "ledger:")
	ledger, _, _ = strings.Cut(between(rest, `tag: "`, `"`), "@")
	return payments, ledger
}

func between(s, start, end string) string {
	_, after, _ := strings.Cut(s, start)
	v, _, _ := strings.Cut(after, end)
	return v
}

// humanCommit sets payments' tag in prod by hand (a person's revert) and
// pushes it to the fake.
func (s *shop) humanCommit(tag, msg string) {
	s.t.Helper()
	r := harness.Clone(s.t, s.gh.AuthCloneURL(manifestRepo, s.gh.Token))
	text := r.ReadFile(holdsValues)
	_, rest, _ := strings.Cut(text, "payments:")
	old := `tag: "` + between(rest, `tag: "`, `"`) + `"`
	i := strings.Index(text, "payments:")
	text = text[:i] + strings.Replace(text[i:], old, `tag: "`+tag+`"`, 1)
	r.WriteFile(holdsValues, text)
	r.Commit(msg)
	r.Git("push", "-q", "origin", "HEAD:main")
}

// TestHoldsRevertAndRollback runs the watcher binary against the real
// registry and the GitHub fake: it promotes payments 1.3.0; a person
// reverts prod to 1.2.0 in git, and the next cycles promote nothing for
// payments (ledger still promotes) and say why; release lets the next cycle
// promote 1.3.0 again. A merged `automator rollback` pull request holds
// payments the same way until released, and hold/release --dry-run write
// nothing.
func TestHoldsRevertAndRollback(t *testing.T) {
	s := newHoldsShop(t)
	for _, tag := range []string{"1.2.0", "1.3.0"} {
		s.pushRandom("vendor/payments", tag)
	}
	for _, tag := range []string{"1.0.0", "1.1.0"} {
		s.pushRandom("vendor/ledger", tag)
	}

	s.cmd("watch", "--once")
	if p, l := s.tags(); p != "1.3.0" || l != "1.1.0" {
		t.Fatalf("after the first cycle prod pins payments %s, ledger %s; want 1.3.0, 1.1.0", p, l)
	}

	// A person reverts payments; ledger gets a new release.
	s.humanCommit("1.2.0", "Revert payments to 1.2.0: 1.3.0 breaks checkout")
	s.pushRandom("vendor/ledger", "1.2.0")
	for cycle := range 2 {
		r := s.cmd("watch", "--once")
		if p, l := s.tags(); p != "1.2.0" || l != "1.2.0" {
			t.Fatalf("cycle %d after the revert: prod pins payments %s, ledger %s; want the revert 1.2.0 kept and ledger 1.2.0", cycle, p, l)
		}
		wantAllText(t, "watch log", r.stderr, "not promoting a held service", `"service":"payments"`, "a revert of 1.3.0", "automator release --env prod --service payments")
	}

	// hold/release --dry-run write nothing.
	before, _ := s.gh.RevParse(manifestRepo, "main")
	out := s.cmd("release", "--env", "prod", "--service", "payments", "--dry-run")
	wantAllText(t, "release --dry-run", out.stdout, ".automator/holds.yaml", "reverted:")
	s.cmd("hold", "--env", "prod", "--service", "ledger", "--reason", "audit", "--dry-run")
	if after, _ := s.gh.RevParse(manifestRepo, "main"); after != before {
		t.Fatalf("a dry run moved main from %s to %s", before, after)
	}

	// Release accepts the revert: the next cycle promotes 1.3.0 again.
	s.cmd("release", "--env", "prod", "--service", "payments")
	msg := s.gh.Log(manifestRepo, "main")
	holdsFile, _ := s.gh.ReadFile(manifestRepo, "main", ".automator/holds.yaml")
	wantAllText(t, "holds file after release", holdsFile, "releases:", "service: payments", "by: alice")
	s.cmd("watch", "--once")
	if p, _ := s.tags(); p != "1.3.0" {
		t.Fatalf("after release prod pins payments %s, want 1.3.0 (log: %q)", p, msg)
	}

	// A merged rollback pull request holds payments the same way.
	s.cmd("rollback", "--env", "prod", "--reason", "1.3.0 breaks checkout again")
	rbHead, _ := s.gh.RevParse(manifestRepo, "automator/rollback-prod")
	wantAllText(t, "the rollback commit", s.message(rbHead), "Automator-Hold: payments", "Automator-By: alice", "Automator-Reason: 1.3.0 breaks checkout again")
	// A re-run recognises its own branch, holds file included, and writes nothing.
	again := s.cmd("rollback", "--env", "prod", "--reason", "1.3.0 breaks checkout again")
	if h, _ := s.gh.RevParse(manifestRepo, "automator/rollback-prod"); h != rbHead {
		t.Errorf("re-running the rollback moved its branch from %s to %s:\n%s", rbHead, h, again.stdout)
	}
	pr := s.gh.PullByHead(manifestRepo, "automator/rollback-prod", "")
	if pr == nil {
		t.Fatalf("no rollback pull request: %+v", s.gh.PullRequests(manifestRepo))
	}
	s.gh.MergePull(manifestRepo, pr.Number)
	holdsFile, _ = s.gh.ReadFile(manifestRepo, "main", ".automator/holds.yaml")
	wantAllText(t, "holds file after the rollback", holdsFile, "service: payments", "by: alice", "reason: 1.3.0 breaks checkout again")
	if p, _ := s.tags(); p != "1.2.0" {
		t.Fatalf("after the rollback prod pins payments %s, want 1.2.0", p)
	}
	r := s.cmd("watch", "--once")
	if p, _ := s.tags(); p != "1.2.0" {
		t.Fatalf("a cycle after the rollback promoted payments %s over it", p)
	}
	wantAllText(t, "watch log after the rollback", r.stderr, "not promoting a held service", "held by alice", "1.3.0 breaks checkout again")

	s.cmd("release", "--env", "prod", "--service", "payments", "--reason", "fixed in checkout")
	s.cmd("watch", "--once")
	if p, _ := s.tags(); p != "1.3.0" {
		t.Fatalf("after releasing the rollback's hold prod pins payments %s, want 1.3.0", p)
	}
}

func wantAllText(t *testing.T, what, got string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(got, w) {
			t.Errorf("%s lacks %q:\n%s", what, w, got)
		}
	}
}
