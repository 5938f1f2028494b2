package git

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// A work tree owned by another user (the runner's uid, as a container
// action sees its workspace) is refused by git's ownership check unless
// SafeDirectoryEnv trusts it; existing GIT_CONFIG_* entries are kept.
func TestSafeDirectoryEnvTrustsAWorkTreeOwnedByAnotherUser(t *testing.T) {
	requireGit(t)
	if os.Geteuid() != 0 {
		if os.Getenv("CI") != "" {
			t.Fatal("CI runs as root; this test needs root to chown the work tree to another uid")
		}
		t.Skip("needs root to chown the work tree to another uid")
	}
	t.Setenv("HOME", t.TempDir()) // no global safe.directory of the machine's
	t.Setenv("GIT_CONFIG_NOSYSTEM", "1")
	dir := t.TempDir()
	gitIn(t, dir, "init", "-q", "-b", "main")
	if err := chownTree(dir, 1001, 1001); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	r, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	_, err = r.TopLevel(ctx)
	if err == nil || !strings.Contains(err.Error(), "dubious ownership") {
		t.Fatalf("without SafeDirectoryEnv: err = %v, want git's dubious ownership refusal", err)
	}

	prior := []string{"GIT_CONFIG_COUNT=1", "GIT_CONFIG_KEY_0=core.quotePath", "GIT_CONFIG_VALUE_0=false"}
	add := SafeDirectoryEnv(prior, dir)
	want := []string{"GIT_CONFIG_COUNT=2", "GIT_CONFIG_KEY_1=safe.directory", "GIT_CONFIG_VALUE_1=" + dir}
	if !slices.Equal(add, want) {
		t.Errorf("SafeDirectoryEnv = %q, want %q", add, want)
	}
	for _, kv := range append(prior, add...) {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	r, err = Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.TopLevel(ctx); err != nil {
		t.Errorf("with SafeDirectoryEnv: %v", err)
	}
}

func chownTree(dir string, uid, gid int) error {
	return exec.Command("chown", "-R", strings.Join([]string{itoa(uid), itoa(gid)}, ":"), dir).Run()
}

func itoa(i int) string { return strconv.Itoa(i) }

// A failed git command's error must not carry *exec.ExitError's ExitCode
// method: the CLI maps errors that have one to its own exit status, and
// git's 128 is not one of the documented codes.
func TestErrorDoesNotExposeGitsExitStatus(t *testing.T) {
	requireGit(t)
	dir := t.TempDir()
	gitIn(t, dir, "init", "-q", "-b", "main")
	r, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	_, err = r.Run(context.Background(), "show", "no-such-revision")
	if err == nil {
		t.Fatal("git show of a missing revision succeeded")
	}
	var ec interface{ ExitCode() int }
	if errors.As(err, &ec) {
		t.Errorf("the error exposes exit code %d through its chain: %v", ec.ExitCode(), err)
	}
	var ge *Error
	if !errors.As(err, &ge) || ge.ExitCode != 128 || !strings.Contains(err.Error(), "no-such-revision") {
		t.Errorf("err = %#v, want a *git.Error with ExitCode 128 that says what failed", err)
	}
}

// In Actions the workspace is trusted by git (it belongs to the runner's
// user, not to root), appended after the caller's own GIT_CONFIG entries;
// outside Actions nothing changes.
func TestActionsWorkspaceEnv(t *testing.T) {
	env := map[string]string{"GITHUB_ACTIONS": "true", "GITHUB_WORKSPACE": "/github/workspace"}
	got := ActionsWorkspaceEnv(func(k string) string { return env[k] }, []string{"GIT_CONFIG_COUNT=1"})
	want := []string{"GIT_CONFIG_COUNT=2", "GIT_CONFIG_KEY_1=safe.directory", "GIT_CONFIG_VALUE_1=/github/workspace"}
	if !slices.Equal(got, want) {
		t.Errorf("ActionsWorkspaceEnv = %q, want %q", got, want)
	}
	env["GITHUB_ACTIONS"] = ""
	if got := ActionsWorkspaceEnv(func(k string) string { return env[k] }, nil); got != nil {
		t.Errorf("outside Actions: %q", got)
	}
}
