package logging

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"

	"go.uber.org/zap/zapcore"
)

// Field keys the annotation core lifts into workflow command properties, so
// that an error about automator.yaml or a manifest points at its line in the
// pull request and run views.
const (
	FieldFile   = "file"
	FieldLine   = "line"
	FieldColumn = "col"
)

// MapCore is a zap core that hands each entry it accepts, with its fields
// (those added by With first) gathered into a map, to Emit: the shape of
// cores that write entries somewhere other than an encoder — workflow
// commands here, the scanner's protocol in package scan.
type MapCore struct {
	zapcore.LevelEnabler
	Emit   func(e zapcore.Entry, fields map[string]any) error
	fields []zapcore.Field
}

// With implements zapcore.Core.
func (c *MapCore) With(fields []zapcore.Field) zapcore.Core {
	clone := *c
	clone.fields = append(append([]zapcore.Field{}, c.fields...), fields...)
	return &clone
}

// Check implements zapcore.Core.
func (c *MapCore) Check(e zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	if c.Enabled(e.Level) {
		return ce.AddCore(e, c)
	}
	return ce
}

// Write implements zapcore.Core.
func (c *MapCore) Write(e zapcore.Entry, fields []zapcore.Field) error {
	enc := zapcore.NewMapObjectEncoder()
	for _, f := range append(append([]zapcore.Field{}, c.fields...), fields...) {
		f.AddTo(enc)
	}
	return c.Emit(e, enc.Fields)
}

// Sync implements zapcore.Core.
func (c *MapCore) Sync() error { return nil }

// annotationCore turns warnings and errors into GitHub Actions workflow
// commands: ::warning file=F,line=L::message.
func annotationCore(level zapcore.LevelEnabler, out io.Writer, mu *sync.Mutex) *MapCore {
	return &MapCore{LevelEnabler: level, Emit: func(e zapcore.Entry, fields map[string]any) error {
		cmd := "warning"
		if e.Level >= zapcore.ErrorLevel {
			cmd = "error"
		}
		var props []string
		for _, k := range []string{FieldFile, FieldLine, FieldColumn} {
			if v, ok := fields[k]; ok {
				props = append(props, fmt.Sprintf("%s=%s", k, escapeProperty(fmt.Sprint(v))))
				delete(fields, k)
			}
		}
		msg := e.Message
		keys := make([]string, 0, len(fields))
		for k := range fields {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			msg += fmt.Sprintf(" %s=%v", k, fields[k])
		}
		mu.Lock()
		defer mu.Unlock()
		_, err := io.WriteString(out, formatCommand(cmd, props, msg))
		return err
	}}
}

func formatCommand(cmd string, props []string, msg string) string {
	line := "::" + cmd
	if len(props) > 0 {
		line += " " + strings.Join(props, ",")
	}
	return line + "::" + escapeData(msg) + "\n"
}

// Annotate writes one ::error workflow command pointing at file:line:col, for
// problems reported outside the logger (a config file's list of mistakes).
func Annotate(w io.Writer, file string, line, col int, msg string) error {
	props := []string{"file=" + escapeProperty(file)}
	if line > 0 {
		props = append(props, fmt.Sprintf("line=%d", line), fmt.Sprintf("col=%d", col))
	}
	_, err := io.WriteString(w, formatCommand("error", props, msg))
	return err
}

// escapeData follows the runner's rules for workflow command data.
func escapeData(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A").Replace(s)
}

// escapeProperty follows the runner's rules for workflow command properties.
func escapeProperty(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A", ":", "%3A", ",", "%2C").Replace(s)
}

// Located is an error made of problems at places in files (a config file's
// list of mistakes), each worth its own annotation. It is an interface so
// that the packages owning such errors need not import logging.
type Located interface {
	error
	// EachProblem calls f once per problem, in the order they are reported.
	EachProblem(f func(file string, line, col int, msg string))
}

// AnnotateProblems writes one ::error workflow command per problem of l,
// each pointing at its file:line:col. Write errors are ignored: the
// annotations repeat what is printed anyway.
func AnnotateProblems(w io.Writer, l Located) {
	l.EachProblem(func(file string, line, col int, msg string) {
		_ = Annotate(w, file, line, col, msg)
	})
}
