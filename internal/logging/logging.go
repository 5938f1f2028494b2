// Package logging builds the zap logger every command passes down: console or
// JSON output, a level, GitHub Actions workflow annotations for warnings and
// errors, and a redactor that guarantees registered secrets never reach any
// output at any level.
package logging

import (
	"fmt"
	"io"
	"strings"
	"sync"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// Options configure New.
type Options struct {
	// Format is "console" (default) or "json".
	Format string
	// Level is debug, info, warn or error (default info).
	Level string
	// Out receives log lines (usually stderr).
	Out io.Writer
	// Annotations, when set, receives GitHub Actions workflow commands
	// (::warning …:: / ::error …::) for every warning and error; usually
	// stdout when GITHUB_ACTIONS=true.
	Annotations io.Writer
	// Redactor scrubs secrets from everything written; required.
	Redactor *Redactor
}

// Formats and levels accepted by New, for --help texts and validation.
var (
	Formats = []string{"console", "json"}
	Levels  = []string{"debug", "info", "warn", "error"}
)

// New returns a logger writing to opts.Out. Every byte written, log lines and
// annotations alike, passes through opts.Redactor.
func New(opts Options) (*zap.Logger, error) {
	if opts.Redactor == nil {
		return nil, fmt.Errorf("building logger: a redactor is required")
	}
	var lvl zapcore.Level
	if opts.Level == "" {
		opts.Level = "info"
	}
	if err := lvl.UnmarshalText([]byte(opts.Level)); err != nil || !contains(Levels, opts.Level) {
		return nil, fmt.Errorf("invalid log level %q: expected one of %s", opts.Level, strings.Join(Levels, ", "))
	}
	encCfg := zapcore.EncoderConfig{
		TimeKey:        "ts",
		LevelKey:       "level",
		NameKey:        "logger",
		MessageKey:     "msg",
		StacktraceKey:  "",
		LineEnding:     zapcore.DefaultLineEnding,
		EncodeLevel:    zapcore.LowercaseLevelEncoder,
		EncodeTime:     zapcore.ISO8601TimeEncoder,
		EncodeDuration: zapcore.StringDurationEncoder,
		EncodeName:     zapcore.FullNameEncoder,
	}
	var enc zapcore.Encoder
	switch opts.Format {
	case "", "console":
		encCfg.TimeKey = ""
		encCfg.EncodeLevel = consoleLevel
		enc = zapcore.NewConsoleEncoder(encCfg)
	case "json":
		enc = zapcore.NewJSONEncoder(encCfg)
	default:
		return nil, fmt.Errorf("invalid log format %q: expected one of %s", opts.Format, strings.Join(Formats, ", "))
	}
	out := opts.Redactor.Writer(opts.Out)
	core := zapcore.NewCore(enc, zapcore.AddSync(out), lvl)
	if opts.Annotations != nil {
		core = zapcore.NewTee(core, annotationCore(zapcore.WarnLevel, opts.Redactor.Writer(opts.Annotations), &sync.Mutex{}))
	}
	return zap.New(core), nil
}

func consoleLevel(l zapcore.Level, enc zapcore.PrimitiveArrayEncoder) {
	switch l {
	case zapcore.InfoLevel:
		enc.AppendString("•")
	case zapcore.WarnLevel:
		enc.AppendString("WARN")
	case zapcore.ErrorLevel:
		enc.AppendString("ERROR")
	case zapcore.DebugLevel:
		enc.AppendString("debug")
	default:
		enc.AppendString(l.CapitalString())
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
