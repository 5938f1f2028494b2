package build

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"sync"
	"syscall"
	"time"

	"go.uber.org/zap"
)

// Command is one builder invocation.
type Command struct {
	Path string
	Args []string
	Dir  string
	// Env is the complete environment of the process; nil inherits the caller's.
	Env []string
	// Output receives stdout and stderr, interleaved as the process writes them.
	Output io.Writer
}

// Runner runs builder commands. The exec-based runner is the real one; tests substitute a fake that
// records command lines, which is how the docker backend is verified on machines without a daemon.
type Runner interface {
	Run(ctx context.Context, cmd Command) error
}

// ExecRunner runs commands as child processes in their own process group; cancelling ctx terminates
// the whole group (buildah and buildx fork helpers).
type ExecRunner struct{}

var _ Runner = ExecRunner{}

// Run implements Runner.
func (ExecRunner) Run(ctx context.Context, c Command) error {
	cmd := exec.CommandContext(ctx, c.Path, c.Args...)
	cmd.Dir = c.Dir
	cmd.Env = c.Env
	cmd.Stdout = c.Output
	cmd.Stderr = c.Output
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM) }
	cmd.WaitDelay = 10 * time.Second
	if err := cmd.Run(); err != nil {
		// The exit status is reported as text on purpose: *exec.ExitError has an ExitCode method, and
		// the CLI must not mistake a builder's status (125, …) for its own exit code.
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return fmt.Errorf("running %s: exit status %d", c.Path, ee.ExitCode())
		}
		return fmt.Errorf("running %s: %w", c.Path, err)
	}
	return nil
}

// tailLines is how many lines of builder output a failed build's error keeps.
const tailLines = 20

// lineLogger is an io.Writer that logs every complete line it receives at info level with the service
// name as a field, and remembers the last tailLines lines for error messages. It is safe for concurrent
// writes (stdout and stderr of one process).
type lineLogger struct {
	log *zap.Logger

	mu   sync.Mutex
	buf  []byte
	tail []string
}

// newLineLogger logs to log with the builder's name, and the service's
// unless service is empty (log already carries it).
func newLineLogger(log *zap.Logger, service, builder string) *lineLogger {
	if service != "" {
		log = log.With(zap.String("service", service))
	}
	return &lineLogger{log: log.With(zap.String("builder", builder))}
}

func (l *lineLogger) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf = append(l.buf, p...)
	for {
		i := bytes.IndexByte(l.buf, '\n')
		if i < 0 {
			break
		}
		l.emit(string(bytes.TrimRight(l.buf[:i], "\r")))
		l.buf = l.buf[i+1:]
	}
	return len(p), nil
}

func (l *lineLogger) emit(line string) {
	if line == "" {
		return
	}
	l.log.Info("builder output", zap.String("line", line))
	l.tail = append(l.tail, line)
	if len(l.tail) > tailLines {
		l.tail = l.tail[len(l.tail)-tailLines:]
	}
}

// flush logs a trailing partial line and returns the remembered tail.
func (l *lineLogger) flush() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.buf) > 0 {
		l.emit(string(l.buf))
		l.buf = nil
	}
	return append([]string(nil), l.tail...)
}
