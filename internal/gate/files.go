package gate

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/deployment-automator/automator/internal/config"
)

// LoadIgnores loads the ignore file at flagPath, else scan.ignoreFile
// relative to the repository root of cfg (nil: none).
func LoadIgnores(cfg *config.Config, flagPath string) (*IgnoreList, error) {
	if flagPath != "" {
		return LoadIgnoreFile(flagPath)
	}
	if cfg == nil || cfg.Scan.IgnoreFile == "" {
		return nil, nil
	}
	p := cfg.Scan.IgnoreFile
	if filepath.IsAbs(p) || cfg.Repo() == nil {
		return LoadIgnoreFile(p)
	}
	data, err := fs.ReadFile(cfg.Repo(), filepath.ToSlash(filepath.Clean(p)))
	if err != nil {
		return nil, fmt.Errorf("scan.ignoreFile: reading %q: %w", p, err)
	}
	return ParseIgnore(p, data)
}

// Reports says which reports of one scan to write: Format (table, json or
// sarif) to the main output, and optionally a SARIF file and a markdown
// file appended to (e.g. $GITHUB_STEP_SUMMARY).
type Reports struct {
	Format   string
	SARIF    string
	Markdown string
	// Scrub, when set, replaces secrets in the markdown report: it usually
	// goes to the job summary, which everyone who can see the run reads.
	Scrub func(string) string
}

// Write writes the reports of r and its verdicts at time now.
func (o Reports) Write(out io.Writer, r *Report, verdicts []Verdict, now time.Time) error {
	var err error
	switch o.Format {
	case "json":
		err = WriteJSON(out, r, verdicts, now)
	case "sarif":
		err = WriteSARIF(out, r, verdicts, now)
	default:
		err = WriteTable(out, r, verdicts, now)
	}
	if err != nil {
		return fmt.Errorf("writing the %s report: %w", o.Format, err)
	}
	if err := writeFile(o.SARIF, false, func(w io.Writer) error { return WriteSARIF(w, r, verdicts, now) }); err != nil {
		return err
	}
	return writeFile(o.Markdown, true, func(w io.Writer) error {
		if o.Scrub == nil {
			return WriteMarkdown(w, r, verdicts, now)
		}
		var b strings.Builder
		if err := WriteMarkdown(&b, r, verdicts, now); err != nil {
			return err
		}
		_, err := io.WriteString(w, o.Scrub(b.String()))
		return err
	})
}

// writeFile writes (or, with appendTo, appends) one report to path; an
// empty path writes nothing.
func writeFile(path string, appendTo bool, write func(io.Writer) error) error {
	if path == "" {
		return nil
	}
	flags := os.O_CREATE | os.O_WRONLY | os.O_TRUNC
	if appendTo {
		flags = os.O_CREATE | os.O_WRONLY | os.O_APPEND
	}
	f, err := os.OpenFile(path, flags, 0o644)
	if err != nil {
		return fmt.Errorf("opening report file %q: %w", path, err)
	}
	if err := write(f); err != nil {
		_ = f.Close()
		return fmt.Errorf("writing report file %q: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("writing report file %q: %w", path, err)
	}
	return nil
}

// Apply writes the reports of r and its verdicts at time now, logs each
// verdict that failed in warn mode (it does not block, so the log is where it
// is seen), and returns a *BlockedError when a verdict blocks; otherwise it
// logs that the gate passed and for which environments.
func (o Reports) Apply(out io.Writer, log *zap.Logger, r *Report, verdicts []Verdict, now time.Time) error {
	if err := o.Write(out, r, verdicts, now); err != nil {
		return err
	}
	for _, v := range verdicts {
		if v.Outcome == Warn {
			log.Warn("vulnerability gate failed in warn mode, not blocking", zap.String("env", v.Env),
				zap.String("digest", r.Image.Digest), zap.Strings("reasons", v.Reasons))
		}
	}
	if err := Check(r.Image, verdicts); err != nil {
		return err
	}
	log.Info("vulnerability gate passed", zap.String("digest", r.Image.Digest), zap.Strings("allowed", Allowed(verdicts)))
	return nil
}
