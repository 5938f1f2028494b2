package git

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

func gitIn(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com", "HOME="+t.TempDir())
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
	return string(out)
}

func write(t *testing.T, dir, name, content string) {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestRepo(t *testing.T) {
	requireGit(t)
	ctx := context.Background()
	dir := t.TempDir()
	gitIn(t, dir, "init", "-q", "-b", "main")
	write(t, dir, "a/moved.go", "package a\n\nfunc A() int { return 1 }\n")
	write(t, dir, "b/gone.txt", "bye\n")
	write(t, dir, "c/sp ace é.txt", "x\n")
	gitIn(t, dir, "add", "-A")
	gitIn(t, dir, "commit", "-q", "-m", "one")
	if err := os.MkdirAll(filepath.Join(dir, "z"), 0o755); err != nil {
		t.Fatal(err)
	}
	gitIn(t, dir, "mv", "a/moved.go", "z/moved.go")
	gitIn(t, dir, "rm", "-q", "b/gone.txt")
	write(t, dir, "c/sp ace é.txt", "y\n")
	gitIn(t, dir, "add", "-A")
	gitIn(t, dir, "commit", "-q", "-m", "two")

	r, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	changes, err := r.Diff(ctx, "HEAD~1", "HEAD")
	if err != nil {
		t.Fatal(err)
	}
	want := []Change{{Status: Deleted, Path: "b/gone.txt"}, {Status: Modified, Path: "c/sp ace é.txt"}, {Status: Renamed, Path: "z/moved.go", OldPath: "a/moved.go"}}
	slices.SortFunc(changes, func(a, b Change) int {
		if a.Path < b.Path {
			return -1
		}
		return 1
	})
	if !slices.Equal(changes, want) {
		t.Errorf("changes = %+v, want %+v", changes, want)
	}

	_, err = r.ResolveCommit(ctx, "nope")
	var ue *UnknownRevisionError
	if !errors.As(err, &ue) {
		t.Errorf("ResolveCommit(nope) = %v, want *UnknownRevisionError", err)
	}
	if _, err := r.ResolveCommit(ctx, "--output=x"); !errors.As(err, &ue) {
		t.Errorf("option-like revision accepted: %v", err)
	}

	head, _ := r.ResolveCommit(ctx, "HEAD")
	first, _ := r.ResolveCommit(ctx, "HEAD~1")
	if ok, err := r.IsAncestor(ctx, first, head); err != nil || !ok {
		t.Errorf("IsAncestor(first, head) = %v, %v", ok, err)
	}
	if ok, err := r.IsAncestor(ctx, head, first); err != nil || ok {
		t.Errorf("IsAncestor(head, first) = %v, %v", ok, err)
	}
	if mb, err := r.MergeBase(ctx, first, head); err != nil || mb != first {
		t.Errorf("MergeBase = %s, %v", mb, err)
	}

	files, err := r.ReadFiles(ctx, "HEAD~1", []string{"a/moved.go", "missing", "c/sp ace é.txt"})
	if err != nil {
		t.Fatal(err)
	}
	if string(files["a/moved.go"]) != "package a\n\nfunc A() int { return 1 }\n" || string(files["c/sp ace é.txt"]) != "x\n" || files["missing"] != nil {
		t.Errorf("ReadFiles = %q", files)
	}
	if _, err := r.ReadFile(ctx, "HEAD", "b/gone.txt"); !errors.Is(err, ErrPathNotFound) {
		t.Errorf("ReadFile(deleted) = %v", err)
	}
	ls, err := r.LsFiles(ctx, "HEAD")
	if err != nil || !slices.Equal(ls, []string{"c/sp ace é.txt", "z/moved.go"}) {
		t.Errorf("LsFiles = %q, %v", ls, err)
	}
	if shallow, err := r.IsShallow(ctx); err != nil || shallow {
		t.Errorf("IsShallow = %v, %v", shallow, err)
	}
}

func TestParseNameStatusZ(t *testing.T) {
	got, err := ParseNameStatusZ([]byte("M\x00a\x00R087\x00old\x00new\x00D\x00d\x00"))
	if err != nil {
		t.Fatal(err)
	}
	want := []Change{{Status: Modified, Path: "a"}, {Status: Renamed, OldPath: "old", Path: "new"}, {Status: Deleted, Path: "d"}}
	if !slices.Equal(got, want) {
		t.Errorf("got %+v", got)
	}
	if _, err := ParseNameStatusZ([]byte("R100\x00old\x00")); err == nil {
		t.Error("truncated rename accepted")
	}
}

func TestCommitTimeAndCurrentBranch(t *testing.T) {
	dir := t.TempDir()
	for _, args := range [][]string{{"init", "-q", "-b", "trunk"}, {"-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "--allow-empty", "-m", "one"}} {
		cmd := exec.Command("git", append([]string{"-C", dir}, args...)...)
		cmd.Env = append(os.Environ(), "GIT_COMMITTER_DATE=2026-05-01T12:00:00Z")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	r, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	ct, err := r.CommitTime(t.Context(), "HEAD")
	if want := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC); err != nil || !ct.Equal(want) {
		t.Errorf("CommitTime = %v, %v; want %v", ct, err, want)
	}
	if b, err := r.CurrentBranch(t.Context()); err != nil || b != "refs/heads/trunk" {
		t.Errorf("CurrentBranch = %q, %v", b, err)
	}
	if _, err := r.CommitTime(t.Context(), "nope"); err == nil {
		t.Error("CommitTime of an unknown revision succeeded")
	}
}

// requireGit skips when git is not installed, except in CI, where that is
// a failure (.ci/install-deps installs it).
func requireGit(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("git not installed (CI must install it: .ci/install-deps)")
		}
		t.Skip("SKIPPING: git not installed and CI is not set")
	}
}
