package trivy

import (
	"context"
	"log/slog"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// routeTrivyLogs sends Trivy's logs to l. Trivy logs through the process-wide
// log/slog default logger (and, until told otherwise, buffers every record in
// memory), so the default is replaced here; this is the one global the
// library forces on us. Trivy's informational chatter goes to debug, its
// warnings and errors to warn: errors that matter come back as Go errors.
func routeTrivyLogs(l *zap.Logger) {
	slog.SetDefault(slog.New(&zapHandler{l: l.WithOptions(zap.AddCallerSkip(3)).Named("trivy")}))
}

type zapHandler struct {
	l      *zap.Logger
	prefix string
}

func (h *zapHandler) level(l slog.Level) zapcore.Level {
	switch {
	case l >= slog.LevelWarn:
		return zapcore.WarnLevel
	default:
		return zapcore.DebugLevel
	}
}

func (h *zapHandler) Enabled(_ context.Context, l slog.Level) bool {
	return h.l.Core().Enabled(h.level(l))
}

func (h *zapHandler) Handle(_ context.Context, r slog.Record) error {
	fields := make([]zap.Field, 0, r.NumAttrs())
	r.Attrs(func(a slog.Attr) bool {
		fields = append(fields, h.field(a))
		return true
	})
	if ce := h.l.Check(h.level(r.Level), r.Message); ce != nil {
		ce.Write(fields...)
	}
	return nil
}

func (h *zapHandler) field(a slog.Attr) zap.Field {
	key := a.Key
	if h.prefix != "" {
		key = h.prefix + "." + key
	}
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		return zap.String(key, v.String())
	case slog.KindInt64:
		return zap.Int64(key, v.Int64())
	case slog.KindBool:
		return zap.Bool(key, v.Bool())
	case slog.KindDuration:
		return zap.Duration(key, v.Duration())
	case slog.KindTime:
		return zap.Time(key, v.Time())
	default:
		if err, ok := v.Any().(error); ok {
			return zap.NamedError(key, err)
		}
		return zap.Any(key, v.Any())
	}
}

func (h *zapHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	fields := make([]zap.Field, len(attrs))
	for i, a := range attrs {
		fields[i] = h.field(a)
	}
	return &zapHandler{l: h.l.With(fields...), prefix: h.prefix}
}

func (h *zapHandler) WithGroup(name string) slog.Handler {
	p := name
	if h.prefix != "" {
		p = h.prefix + "." + name
	}
	return &zapHandler{l: h.l, prefix: p}
}
