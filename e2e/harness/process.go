package harness

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// RequireBinary returns the absolute path of the named executable. When it is missing the test is skipped
// loudly outside CI (CI unset or empty) and fails in CI, so CI can never silently skip e2e coverage.
func RequireBinary(t testing.TB, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err == nil {
		return path
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("required binary %q not found on PATH (CI is set, so this is a failure): %v", name, err)
		return ""
	}
	t.Skipf("SKIPPING: required binary %q not found on PATH and CI is not set: %v", name, err)
	return ""
}

// freeLoopbackAddr reserves a free TCP port on 127.0.0.1 and releases it so a child process can bind it.
// Callers retry when the child then fails to bind because another process took the port meanwhile.
func freeLoopbackAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("reserving a loopback port: %w", err)
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil {
		return "", fmt.Errorf("releasing loopback port %s: %w", addr, err)
	}
	return addr, nil
}

// childProcess is a started command in its own process group, so stopping it also stops anything it forked.
type childProcess struct {
	cmd    *exec.Cmd
	done   chan struct{}
	err    error
	stderr *os.File
}

func startChild(cmd *exec.Cmd, logPath string) (*childProcess, error) {
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("creating log file %q: %w", logPath, err)
	}
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		_ = logFile.Close()
		return nil, fmt.Errorf("starting %s: %w", cmd.Path, err)
	}
	p := &childProcess{cmd: cmd, done: make(chan struct{}), stderr: logFile}
	go func() {
		p.err = cmd.Wait()
		_ = logFile.Close()
		close(p.done)
	}()
	return p, nil
}

// exited reports whether the process has already terminated.
func (p *childProcess) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop terminates the whole process group: SIGTERM, then SIGKILL after a grace period. It waits for the
// process to be reaped so no zombie or orphan outlives the test.
func (p *childProcess) stop() error {
	if p.exited() {
		return nil
	}
	pgid := p.cmd.Process.Pid
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	select {
	case <-p.done:
		return nil
	case <-time.After(5 * time.Second):
	}
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
	select {
	case <-p.done:
		return nil
	case <-time.After(5 * time.Second):
		return errors.New("process group did not exit after SIGKILL")
	}
}

// tailFile returns the last lines of a log file for failure messages.
func tailFile(path string, lines int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(cannot read %s: %v)", path, err)
	}
	all := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(all) > lines {
		all = all[len(all)-lines:]
	}
	return strings.Join(all, "\n")
}
