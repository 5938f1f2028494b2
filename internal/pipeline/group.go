package pipeline

import (
	"fmt"
	"io"
	"strings"
	"sync"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// GroupedLogs returns a BuildStage.Group for GitHub Actions: it collects
// each service's log lines and prints them to out inside
// ::group::/::endgroup:: when the service is done, so parallel builds do not
// interleave. Warnings and errors also reach logger at once (and become
// annotations).
func GroupedLogs(logger *zap.Logger, out io.Writer) func(string, func(*zap.Logger) error) error {
	var mu sync.Mutex
	return func(service string, work func(*zap.Logger) error) error {
		var buf strings.Builder
		enc := zapcore.NewConsoleEncoder(zapcore.EncoderConfig{MessageKey: "msg", LevelKey: "level", EncodeLevel: zapcore.CapitalLevelEncoder, LineEnding: "\n"})
		core := zapcore.NewCore(enc, zapcore.AddSync(&lockedWriter{w: &buf}), logger.Level())
		main, err := zapcore.NewIncreaseLevelCore(logger.Core(), zapcore.WarnLevel)
		if err != nil {
			main = logger.Core() // already at warn or above
		}
		err = work(zap.New(zapcore.NewTee(core, main)).With(zap.String("service", service)))
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(out, "::group::%s\n%s::endgroup::\n", service, buf.String())
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
