package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/deployment-automator/automator/internal/actions"
	"github.com/deployment-automator/automator/internal/config"
	"github.com/deployment-automator/automator/internal/gitops"
	"github.com/deployment-automator/automator/internal/pipeline"
	"github.com/deployment-automator/automator/internal/scan"
)

// newGate wires the vulnerability gate: Trivy behind its per-digest cache
// when scanning is enabled, refreshing its DB when due (the watcher outlives
// DBs), the config's policies and ignore file. The returned func releases
// the scanner.
func (a *app) newGate(ctx context.Context, cfg *config.Config) (*pipeline.Gate, func(), error) {
	ignores, err := scanIgnores(cfg, "")
	if err != nil {
		return nil, nil, &usageError{err: err}
	}
	g := &pipeline.Gate{Config: cfg, Ignores: ignores}
	if !cfg.ScanEnabled() {
		a.logger.Warn("vulnerability scanning is disabled (scan.enabled: false): images are promoted unscanned")
		return g, func() {}, nil
	}
	trivy, err := scan.New(ctx, scan.WithConfig(cfg.Scan), scan.WithLogger(a.logger.Named("scan")))
	if err != nil {
		return nil, nil, err
	}
	g.Scanner = scan.NewRefreshing(scan.NewCaching(trivy), trivy)
	rc, err := a.registryClient(cfg)
	if err != nil {
		return nil, nil, err
	}
	g.Open = rc.Image
	return g, func() {
		if err := trivy.Close(); err != nil {
			a.logger.Warn("closing the scanner", zap.Error(err))
		}
	}, nil
}

// promoter wires write-back: the writer (GitHub or dry run), the gate and
// the registry copier for environments whose registry differs (one that
// copies nothing when dry-running).
func (a *app) promoter(ctx context.Context, cfg *config.Config, g *pipeline.Gate, dryRun bool) (*gitops.Promoter, error) {
	w, err := a.gitopsWriter(ctx, cfg, dryRun)
	if err != nil {
		return nil, err
	}
	p := &gitops.Promoter{Writer: w, Images: gitops.ImagesFromConfig(cfg), Logger: a.logger.Named("promote")}
	if g != nil {
		p.Gate = g
	}
	if dryRun {
		p.Copier = gitops.DryRunCopier{}
	} else {
		c, err := a.registryClient(cfg)
		if err != nil {
			return nil, err
		}
		p.Copier = registryCopier{c}
	}
	return p, nil
}

// reportRun writes the step outputs and job summary of a run (in Actions)
// and prints the environments' diffs and pull requests.
func (a *app) reportRun(out io.Writer, images []*pipeline.Image, envs []pipeline.EnvOutcome, dryRun bool, extra ...actions.Output) error {
	for _, o := range envs {
		if o.Result != nil {
			printResult(out, o.Result, dryRun)
		}
	}
	outs, err := pipeline.Outputs(images, envs)
	if err != nil {
		return err
	}
	if err := a.step().WriteOutputs(append(extra, outs...)...); err != nil {
		return err
	}
	if err := a.step().AppendSummary(pipeline.SummaryMarkdown(images, envs)); err != nil {
		return err
	}
	return nil
}

// groupedLogs returns, in GitHub Actions, a BuildStage.Group that collects
// each service's log lines and prints them inside ::group::/::endgroup::
// when the service is done, so parallel builds do not interleave; outside
// Actions it returns nil and lines stream as they come.
func (a *app) groupedLogs() func(string, func(*zap.Logger) error) error {
	if a.getenv("GITHUB_ACTIONS") != "true" {
		return nil
	}
	var mu sync.Mutex
	return func(service string, work func(*zap.Logger) error) error {
		var buf strings.Builder
		enc := zapcore.NewConsoleEncoder(zapcore.EncoderConfig{MessageKey: "msg", LevelKey: "level", EncodeLevel: zapcore.CapitalLevelEncoder, LineEnding: "\n"})
		core := zapcore.NewCore(enc, zapcore.AddSync(&lockedWriter{w: &buf}), a.logger.Level())
		// Warnings and errors also reach the main logger (and become annotations).
		main, err := zapcore.NewIncreaseLevelCore(a.logger.Core(), zapcore.WarnLevel)
		if err != nil {
			main = a.logger.Core() // already at warn or above
		}
		l := zap.New(zapcore.NewTee(core, main))
		err = work(l.With(zap.String("service", service)))
		mu.Lock()
		defer mu.Unlock()
		w := a.redactor.Writer(a.stdout)
		fmt.Fprintf(w, "::group::%s\n%s::endgroup::\n", service, buf.String())
		return err
	}
}

type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
