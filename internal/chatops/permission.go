package chatops

import (
	"fmt"
	"strings"

	"github.com/google/go-github/v60/github"

	"github.com/deployment-automator/automator/internal/promote"
)

// Levels are GitHub's repository roles, weakest first.
var Levels = []string{"none", "read", "triage", "write", "maintain", "admin"}

func rank(level string) int {
	for i, l := range Levels {
		if l == level {
			return i
		}
	}
	return -1
}

// Policy says which repository role may run which command.
type Policy struct {
	// Default is the role a promote, rollback, hold or release needs
	// (default write).
	Default string
	// Approval is the role needed for environments whose pull requests
	// ask for reviewers (pullRequest.reviewers or teamReviewers): promoting
	// those is a release decision (default maintain).
	Approval string
	// Read is the role status needs (default read).
	Read string
	// Env overrides the role per environment (--permission ENV=ROLE).
	Env map[string]string
}

// DefaultPolicy: write for dev-like environments, maintain where pull
// requests need reviewers, read for status.
func DefaultPolicy() Policy { return Policy{Default: "write", Approval: "maintain", Read: "read"} }

// ParsePermissions reads ENV=ROLE overrides into p.Env.
func (p *Policy) ParsePermissions(pairs []string) error {
	for _, kv := range pairs {
		env, role, ok := strings.Cut(kv, "=")
		if !ok || env == "" || rank(role) < 1 {
			return fmt.Errorf("--permission %q: want ENV=ROLE with ROLE one of %s", kv, strings.Join(Levels[1:], ", "))
		}
		if p.Env == nil {
			p.Env = map[string]string{}
		}
		p.Env[env] = role
	}
	return nil
}

// Need is the role req needs on t (t is nil for status).
func (p Policy) Need(req Request, t *promote.Target) string {
	if req.Verb == "status" || t == nil {
		return or(p.Read, "read")
	}
	if r := p.Env[t.Name()]; r != "" {
		return r
	}
	if pr := t.Env.PullRequest; len(pr.Reviewers) > 0 || len(pr.TeamReviewers) > 0 {
		return or(p.Approval, "maintain")
	}
	return or(p.Default, "write")
}

func or(a, b string) string {
	if a == "" {
		return b
	}
	return a
}

// Role is the highest role the permission answer grants: the user's
// permission flags (which tell maintain from write and triage from read)
// when present, else the legacy permission (admin, write, read, none).
func Role(p *github.RepositoryPermissionLevel) string {
	if u := p.GetUser(); u != nil && len(u.Permissions) > 0 {
		flags := u.Permissions
		for _, f := range []struct{ flag, role string }{{"admin", "admin"}, {"maintain", "maintain"}, {"push", "write"}, {"triage", "triage"}, {"pull", "read"}} {
			if flags[f.flag] {
				return f.role
			}
		}
		return "none"
	}
	if r := p.GetPermission(); rank(r) >= 0 {
		return r
	}
	return "none"
}

// Allows reports whether role meets need.
func Allows(role, need string) bool { return rank(role) >= rank(need) && rank(need) >= 0 }
