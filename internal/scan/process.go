package scan

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/deployment-automator/automator/internal/config"
	"github.com/deployment-automator/automator/internal/gate"
)

// ScannerExecutable is the scanner's file name, looked up next to automator
// and then on PATH; $AUTOMATOR_SCANNER names another file.
const ScannerExecutable = "automator-scan"

// Locate finds the automator-scan executable: $AUTOMATOR_SCANNER when set,
// else the file next to the running automator (the pinned pair of a
// release, the container image or `make build`), else the first on PATH.
func Locate(getenv func(string) string) (string, error) {
	if p := getenv("AUTOMATOR_SCANNER"); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("AUTOMATOR_SCANNER names %q: %w", p, err)
		}
		return p, nil
	}
	var beside string
	if self, err := os.Executable(); err == nil {
		if resolved, err := filepath.EvalSymlinks(self); err == nil {
			self = resolved
		}
		beside = filepath.Join(filepath.Dir(self), ScannerExecutable)
		if fi, err := os.Stat(beside); err == nil && !fi.IsDir() {
			return beside, nil
		}
	}
	if p, err := exec.LookPath(ScannerExecutable); err == nil {
		return p, nil
	}
	return "", fmt.Errorf("vulnerability scanning needs the %s executable (Trivy) of this release: it is neither at %s nor on PATH; install it beside automator, set AUTOMATOR_SCANNER to its path, or turn scanning off (scan.enabled: false)", ScannerExecutable, beside)
}

// Process is the Scanner that runs Trivy in an automator-scan process (see
// the package doc): started by Start, restarted by the next call should it
// die (a watcher runs for weeks), stopped by Close. It is safe for
// concurrent use; scans run in parallel in the one process.
type Process struct {
	path     string
	args     []string
	version  string
	settings config.Scan
	logger   *zap.Logger
	images   *imageServer

	startMu sync.Mutex // serialises (re)starts
	mu      sync.Mutex
	proc    *running
	db      gate.DBInfo
	scanner string
	closed  bool
}

// running is one scanner process and its in-flight requests.
type running struct {
	cmd     *exec.Cmd
	stdin   io.WriteCloser
	wmu     sync.Mutex
	stderr  *tail
	done    chan struct{} // closed when stdout ended and the process exited
	exitErr error

	mu      sync.Mutex
	nextID  uint64
	pending map[uint64]chan response
}

// ProcessOption configures Start.
type ProcessOption func(*Process)

// WithExecutable runs the scanner at path (see Locate), with args.
func WithExecutable(path string, args ...string) ProcessOption {
	return func(p *Process) { p.path, p.args = path, args }
}

// WithSettings are the scan settings (automator.yaml's scan section, with
// the command line's Overrides applied) the scanner opens its DB with.
func WithSettings(s config.Scan) ProcessOption { return func(p *Process) { p.settings = s } }

// WithVersion is automator's build version; the scanner refuses another
// release's (development builds are not compared).
func WithVersion(v string) ProcessOption { return func(p *Process) { p.version = v } }

// WithProcessLogger receives the scanner's logs.
func WithProcessLogger(l *zap.Logger) ProcessOption { return func(p *Process) { p.logger = l } }

var (
	_ Scanner     = (*Process)(nil)
	_ DBRefresher = (*Process)(nil)
)

// Start starts the scanner and waits until it has opened its vulnerability
// DB: a missing or too old DB is a *DBError here, before any image is
// looked at.
func Start(ctx context.Context, opts ...ProcessOption) (*Process, error) {
	p := &Process{logger: zap.NewNop()}
	for _, o := range opts {
		o(p)
	}
	if p.path == "" {
		return nil, errors.New("starting the scanner: no executable given")
	}
	srv, err := newImageServer()
	if err != nil {
		return nil, err
	}
	p.images = srv
	if _, err := p.running(ctx); err != nil {
		_ = srv.close()
		return nil, err
	}
	return p, nil
}

// DB is the vulnerability DB the scanner used last.
func (p *Process) DB() gate.DBInfo {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.db
}

// Scanner names the engine, e.g. "trivy v0.74.0".
func (p *Process) Scanner() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.scanner
}

// Scan has the scanner scan img, lent to it through the loopback registry.
func (p *Process) Scan(ctx context.Context, ref string, img v1.Image) (*gate.Report, error) {
	resp, err := p.withImage(ctx, opScan, ref, img)
	if err != nil {
		return nil, err
	}
	if resp.Report == nil {
		return nil, fmt.Errorf("scanning image %q: the scanner sent no report", ref)
	}
	return resp.Report, nil
}

// SBOM is img's CycloneDX SBOM, as package scan/trivy writes it.
func (p *Process) SBOM(ctx context.Context, ref string, img v1.Image) ([]byte, error) {
	resp, err := p.withImage(ctx, opSBOM, ref, img)
	if err != nil {
		return nil, err
	}
	return resp.SBOM, nil
}

// RefreshDB lets the scanner update its DB when due (see DBRefresher).
func (p *Process) RefreshDB(ctx context.Context) error {
	_, err := p.call(ctx, request{Op: opRefresh})
	return err
}

func (p *Process) withImage(ctx context.Context, op, ref string, img v1.Image) (response, error) {
	src, done, err := p.images.lend(img)
	if err != nil {
		return response{}, fmt.Errorf("lending image %q to the scanner: %w", ref, err)
	}
	defer done()
	return p.call(ctx, request{Op: op, Image: &imageRef{Ref: ref, Source: src}})
}

// call sends req to the scanner (starting it again if it died) and waits
// for the answer; a cancelled ctx cancels the request in the scanner too.
func (p *Process) call(ctx context.Context, req request) (response, error) {
	r, err := p.running(ctx)
	if err != nil {
		return response{}, err
	}
	if dl, ok := ctx.Deadline(); ok {
		req.Deadline = dl
	}
	ch := r.expect(&req)
	if err := r.send(req); err != nil {
		r.forget(req.ID)
		r.kill()
		return response{}, p.died(r, err)
	}
	select {
	case resp := <-ch:
		if resp.DB != nil {
			p.mu.Lock()
			p.db = *resp.DB
			p.mu.Unlock()
		}
		if resp.Error != nil {
			return resp, resp.Error.err()
		}
		return resp, nil
	case <-r.done:
		return response{}, p.died(r, nil)
	case <-ctx.Done():
		r.forget(req.ID)
		_ = r.send(request{Op: opCancel, Cancel: req.ID})
		return response{}, ctx.Err()
	}
}

// running returns the live scanner process, starting one (and saying hello)
// when there is none or the last one died.
func (p *Process) running(ctx context.Context) (*running, error) {
	p.startMu.Lock()
	defer p.startMu.Unlock()
	p.mu.Lock()
	r, closed := p.proc, p.closed
	p.mu.Unlock()
	if closed {
		return nil, errors.New("the scanner is closed")
	}
	if r != nil {
		select {
		case <-r.done:
			p.logger.Warn("the scanner process ended; starting it again", zap.String("executable", p.path), zap.Error(p.died(r, nil)))
		default:
			return r, nil
		}
	}
	r, err := p.start()
	if err != nil {
		return nil, err
	}
	h := request{Op: opHello, Hello: &hello{Protocol: protocolVersion, Version: p.version, Settings: p.settings, Debug: p.logger.Core().Enabled(zapcore.DebugLevel)}}
	ch := r.expect(&h)
	if err := r.send(h); err != nil {
		r.kill()
		return nil, p.died(r, err)
	}
	select {
	case resp := <-ch:
		if resp.Error != nil {
			r.kill()
			return nil, resp.Error.err()
		}
		if resp.Hello == nil {
			r.kill()
			return nil, fmt.Errorf("starting the scanner %s: no answer to hello", p.path)
		}
		p.mu.Lock()
		p.proc, p.db, p.scanner = r, resp.Hello.DB, resp.Hello.Scanner
		p.mu.Unlock()
		p.logger.Debug("scanner started", zap.String("executable", p.path), zap.String("scanner", resp.Hello.Scanner),
			zap.String("version", resp.Hello.Version), zap.Int("pid", r.cmd.Process.Pid))
		return r, nil
	case <-r.done:
		return nil, p.died(r, nil)
	case <-ctx.Done():
		r.kill()
		return nil, fmt.Errorf("starting the scanner %s: %w", p.path, ctx.Err())
	}
}

func (p *Process) start() (*running, error) {
	// The scanner's context is the Process's lifetime, not a request's:
	// Close ends it.
	cmd := exec.Command(p.path, p.args...)
	r := &running{cmd: cmd, stderr: &tail{max: 8 << 10}, done: make(chan struct{}), pending: map[uint64]chan response{}}
	cmd.Stderr = r.stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, fmt.Errorf("starting the scanner %s: %w", p.path, err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("starting the scanner %s: %w", p.path, err)
	}
	r.stdin = stdin
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting the scanner %s: %w", p.path, err)
	}
	go p.read(r, stdout)
	return r, nil
}

// read dispatches the scanner's messages until its stdout ends, then reaps
// the process.
func (p *Process) read(r *running, stdout io.Reader) {
	sc := bufio.NewScanner(stdout)
	sc.Buffer(make([]byte, 64<<10), 256<<20)
	for sc.Scan() {
		var resp response
		if err := json.Unmarshal(sc.Bytes(), &resp); err != nil {
			p.logger.Warn("unreadable message from the scanner", zap.Error(err))
			continue
		}
		if resp.Log != nil {
			p.log(resp.Log)
			continue
		}
		r.mu.Lock()
		ch := r.pending[resp.ID]
		delete(r.pending, resp.ID)
		r.mu.Unlock()
		if ch != nil {
			ch <- resp
		}
	}
	r.exitErr = r.cmd.Wait()
	close(r.done)
}

func (p *Process) log(l *logRecord) {
	lvl, err := zapcore.ParseLevel(l.Level)
	if err != nil {
		lvl = zapcore.InfoLevel
	}
	log := p.logger
	if name, ok := l.Fields["logger"].(string); ok {
		// Trivy's own logger name becomes a child of ours ("scan.trivy"),
		// not a second "logger" key.
		log = log.Named(name)
	}
	ce := log.Check(lvl, l.Message)
	if ce == nil {
		return
	}
	keys := make([]string, 0, len(l.Fields))
	for k := range l.Fields {
		if k != "logger" {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	fs := make([]zap.Field, 0, len(keys))
	for _, k := range keys {
		fs = append(fs, zap.Any(k, l.Fields[k]))
	}
	ce.Write(fs...)
}

// died is the error for requests the process r can no longer answer.
func (p *Process) died(r *running, cause error) error {
	<-r.done
	msg := strings.TrimSpace(r.stderr.String())
	var b strings.Builder
	fmt.Fprintf(&b, "the scanner %s ended", p.path)
	if r.exitErr != nil {
		fmt.Fprintf(&b, " (%v)", r.exitErr)
	}
	if cause != nil && !errors.Is(cause, os.ErrClosed) {
		fmt.Fprintf(&b, " while automator wrote to it: %v", cause)
	}
	if msg != "" {
		fmt.Fprintf(&b, "; its last words: %s", msg)
	}
	return errors.New(b.String())
}

// Close ends the scanner: its stdin is closed, it finishes what runs and
// exits; after 10 s it is killed.
func (p *Process) Close() error {
	p.startMu.Lock()
	defer p.startMu.Unlock()
	p.mu.Lock()
	r, was := p.proc, p.closed
	p.closed, p.proc = true, nil
	p.mu.Unlock()
	if was {
		return nil
	}
	var err error
	if r != nil {
		_ = r.stdin.Close()
		select {
		case <-r.done:
		case <-time.After(10 * time.Second):
			r.kill()
			<-r.done
		}
		var exit *exec.ExitError
		if r.exitErr != nil && !errors.As(r.exitErr, &exit) {
			err = fmt.Errorf("stopping the scanner %s: %w", p.path, r.exitErr)
		} else if r.exitErr != nil {
			err = fmt.Errorf("the scanner %s exited with %v: %s", p.path, r.exitErr, strings.TrimSpace(r.stderr.String()))
		}
	}
	if p.images != nil {
		_ = p.images.close()
	}
	return err
}

func (r *running) send(req request) error {
	b, err := encodeLine(req)
	if err != nil {
		return err
	}
	r.wmu.Lock()
	defer r.wmu.Unlock()
	_, err = r.stdin.Write(b)
	return err
}

// expect gives req the next ID and returns the channel its response will
// arrive on.
func (r *running) expect(req *request) chan response {
	ch := make(chan response, 1)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.nextID++
	req.ID = r.nextID
	r.pending[req.ID] = ch
	return ch
}

func (r *running) forget(id uint64) {
	r.mu.Lock()
	delete(r.pending, id)
	r.mu.Unlock()
}

func (r *running) kill() {
	_ = r.stdin.Close()
	if r.cmd.Process != nil {
		_ = r.cmd.Process.Kill()
	}
}

// tail keeps the last max bytes written to it (the scanner's stderr: a
// panic or a fatal error before the protocol could carry it).
type tail struct {
	mu  sync.Mutex
	max int
	buf bytes.Buffer
}

func (t *tail) Write(b []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf.Write(b)
	if over := t.buf.Len() - t.max; over > 0 {
		t.buf.Next(over)
	}
	return len(b), nil
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.buf.String()
}
