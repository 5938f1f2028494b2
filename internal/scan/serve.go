package scan

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/deployment-automator/automator/internal/config"
	"github.com/deployment-automator/automator/internal/logging"
)

// Engine is what automator-scan serves: a Scanner that refreshes its DB and
// lists packages (package scan/trivy's Scanner).
type Engine interface {
	Scanner
	DBRefresher
	SBOM(ctx context.Context, ref string, img v1.Image) ([]byte, error)
	Close() error
}

// OpenEngine opens the engine with the caller's scan settings; logs go to
// logger, and through it to the caller.
type OpenEngine func(ctx context.Context, settings config.Scan, logger *zap.Logger) (Engine, error)

// ImageOpener opens an image the caller serves, by reference.
type ImageOpener func(ctx context.Context, ref string) (v1.Image, error)

// Server is automator-scan's side of the protocol (see proto.go).
type Server struct {
	// Version is this build's main.version, Scanner the engine's name and
	// version ("trivy v0.74.0"), both sent in the hello.
	Version, Scanner string
	Open             OpenEngine
	Images           ImageOpener

	wmu sync.Mutex
	out io.Writer

	mu      sync.Mutex
	cancels map[uint64]context.CancelFunc
}

// Serve answers the requests read from in on out until in ends (the caller
// closed the pipe) or ctx is done, then waits for requests in progress and
// closes the engine. It returns an error only when the protocol itself
// broke: a request that fails is answered with its error.
func (s *Server) Serve(ctx context.Context, in io.Reader, out io.Writer) error {
	s.out = out
	s.cancels = map[uint64]context.CancelFunc{}
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	var (
		engine Engine
		wg     sync.WaitGroup
	)
	defer func() {
		wg.Wait()
		if engine != nil {
			_ = engine.Close()
		}
	}()
	for sc.Scan() {
		var req request
		if err := json.Unmarshal(sc.Bytes(), &req); err != nil {
			return fmt.Errorf("reading a request: %w", err)
		}
		if engine == nil && req.Op != opHello {
			s.reply(response{ID: req.ID, Error: &wireError{Message: "the scanner has not been opened: the first request must be a hello"}})
			continue
		}
		switch req.Op {
		case opHello:
			if engine != nil {
				s.reply(response{ID: req.ID, Error: &wireError{Message: "the scanner is already open"}})
				continue
			}
			e, res, err := s.hello(ctx, req.Hello)
			engine = e
			s.reply(response{ID: req.ID, Hello: res, Error: toWire(err)})
		case opCancel:
			s.mu.Lock()
			if cancel := s.cancels[req.Cancel]; cancel != nil {
				cancel()
			}
			s.mu.Unlock()
		case opScan, opSBOM, opRefresh:
			rctx := s.track(ctx, req)
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer s.untrack(req.ID)
				s.reply(s.handle(rctx, engine, req))
			}()
		default:
			s.reply(response{ID: req.ID, Error: &wireError{Message: fmt.Sprintf("unknown operation %q", req.Op)}})
		}
	}
	return sc.Err()
}

func (s *Server) hello(ctx context.Context, h *hello) (Engine, *helloResult, error) {
	res := &helloResult{Protocol: protocolVersion, Version: s.Version, Scanner: s.Scanner}
	if h == nil {
		return nil, res, errors.New("hello without settings")
	}
	if h.Protocol != protocolVersion {
		return nil, res, fmt.Errorf("automator speaks scanner protocol %d, this automator-scan %d: install the automator-scan of the same release", h.Protocol, protocolVersion)
	}
	if err := checkVersions(h.Version, s.Version); err != nil {
		return nil, res, err
	}
	level := zapcore.InfoLevel
	if h.Debug {
		level = zapcore.DebugLevel
	}
	// Each entry goes to the caller as a log record, which Process logs with
	// its own logger (redaction, format and level included).
	e, err := s.Open(ctx, h.Settings, zap.New(&logging.MapCore{LevelEnabler: level, Emit: func(e zapcore.Entry, fields map[string]any) error {
		if e.LoggerName != "" {
			fields["logger"] = e.LoggerName
		}
		s.reply(response{Log: &logRecord{Level: e.Level.String(), Message: e.Message, Fields: fields}})
		return nil
	}}))
	if err != nil {
		return nil, res, err
	}
	res.DB = e.DB()
	return e, res, nil
}

// checkVersions refuses a scanner of another release: automator and
// automator-scan ship as a pinned pair. Development builds ("dev", or one
// side unset) are not compared.
func checkVersions(caller, scanner string) error {
	if caller == "" || scanner == "" || caller == "dev" || scanner == "dev" || caller == scanner {
		return nil
	}
	return fmt.Errorf("automator %s cannot use automator-scan %s: install the automator-scan of the same release", caller, scanner)
}

func (s *Server) handle(ctx context.Context, engine Engine, req request) response {
	resp := response{ID: req.ID}
	if req.Op == opRefresh {
		err := engine.RefreshDB(ctx)
		db := engine.DB()
		resp.DB, resp.Error = &db, toWire(err)
		return resp
	}
	if req.Image == nil {
		resp.Error = &wireError{Message: req.Op + " without an image"}
		return resp
	}
	img, err := s.Images(ctx, req.Image.Source)
	if err != nil {
		resp.Error = toWire(fmt.Errorf("reading image %q from automator: %w", req.Image.Ref, err))
		return resp
	}
	if req.Op == opSBOM {
		resp.SBOM, err = engine.SBOM(ctx, req.Image.Ref, img)
	} else {
		resp.Report, err = engine.Scan(ctx, req.Image.Ref, img)
	}
	db := engine.DB()
	resp.DB, resp.Error = &db, toWire(err)
	return resp
}

func (s *Server) track(ctx context.Context, req request) context.Context {
	var cancel context.CancelFunc
	if !req.Deadline.IsZero() {
		ctx, cancel = context.WithDeadline(ctx, req.Deadline)
	} else {
		ctx, cancel = context.WithCancel(ctx)
	}
	s.mu.Lock()
	s.cancels[req.ID] = cancel
	s.mu.Unlock()
	return ctx
}

func (s *Server) untrack(id uint64) {
	s.mu.Lock()
	if cancel := s.cancels[id]; cancel != nil {
		cancel()
		delete(s.cancels, id)
	}
	s.mu.Unlock()
}

// reply writes one message; writes are serialised so lines never mix.
func (s *Server) reply(r response) {
	b, err := encodeLine(r)
	if err != nil {
		b, _ = encodeLine(response{ID: r.ID, Error: &wireError{Message: fmt.Sprintf("encoding the response: %v", err)}})
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	_, _ = s.out.Write(b)
}
