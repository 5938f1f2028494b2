package logging

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
)

// Mask replaces every secret in output.
const Mask = "***"

// minSecretLen avoids masking trivially short values (a one-letter "token"
// would turn every log line to asterisks) while still catching any real
// credential.
const minSecretLen = 4

// Redactor holds the secret values known to this process and scrubs them from
// every writer it wraps. Secrets discovered at run time (installation tokens
// minted mid-run) are added as they appear. It is safe for concurrent use.
type Redactor struct {
	mu      sync.RWMutex
	secrets [][]byte
	mask    io.Writer
}

// NewRedactor returns a Redactor. When mask is non-nil (GitHub Actions stdout),
// each new secret is also announced with ::add-mask:: so the runner hides it
// from output the process does not control.
func NewRedactor(mask io.Writer) *Redactor { return &Redactor{mask: mask} }

// Add registers secret values minted at run time (installation tokens):
// they are scrubbed and, in GitHub Actions, announced with ::add-mask:: so
// the runner hides them too. Values shorter than 4 bytes are ignored. The
// standard base64 form is registered too, since credentials travel encoded
// (basic auth headers, docker config files).
func (r *Redactor) Add(secrets ...string) { r.add(true, secrets) }

// AddKnown registers secrets that came from the environment or inputs: they
// are scrubbed but not announced, because the runner already masks the
// secrets it hands out and announcing would print them.
func (r *Redactor) AddKnown(secrets ...string) { r.add(false, secrets) }

// AddKnownEnv registers, as AddKnown, the values of the environment
// variables that always hold secrets when set, whatever the config says:
// GitHub tokens and App keys, registry passwords, the runtime token.
func (r *Redactor) AddKnownEnv(getenv func(string) string) {
	for _, k := range []string{
		"GITHUB_TOKEN", "GH_TOKEN", "INPUT_GITHUB-TOKEN", "INPUT_APP-PRIVATE-KEY",
		"AUTOMATOR_APP_PRIVATE_KEY", "REGISTRY_PASSWORD", "DOCKER_PASSWORD", "ACTIONS_RUNTIME_TOKEN",
	} {
		if v := getenv(k); v != "" {
			r.AddKnown(v)
		}
	}
}

func (r *Redactor) add(announce bool, secrets []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var all []string
	for _, s := range secrets {
		all = append(all, s)
		// A secret read from a file usually ends with a newline that the
		// builder or tool printing it does not: the trimmed value (and its
		// base64) is the form that leaks.
		if t := strings.TrimSpace(s); t != s {
			all = append(all, t)
		}
	}
	for _, s := range all {
		if len(s) < minSecretLen {
			continue
		}
		// The encoders escape what they print: JSON (both log formats
		// encode fields as JSON) and workflow commands (annotations).
		forms := []string{s, base64.StdEncoding.EncodeToString([]byte(s)), jsonEscape(s), escapeData(s), escapeProperty(s)}
		// A multi-line secret (a PEM private key) may be printed a line at a
		// time: every substantial line is a secret of its own.
		for _, line := range strings.Split(s, "\n") {
			if line = strings.TrimSpace(line); len(line) >= 16 && !strings.HasPrefix(line, "-----") {
				forms = append(forms, line)
			}
		}
		for _, form := range forms {
			if r.knownLocked(form) {
				continue
			}
			r.secrets = append(r.secrets, []byte(form))
			if announce && r.mask != nil {
				fmt.Fprintf(r.mask, "::add-mask::%s\n", form)
			}
		}
	}
	// Longest first, so a secret that contains another is masked whole.
	sort.Slice(r.secrets, func(i, j int) bool { return len(r.secrets[i]) > len(r.secrets[j]) })
}

// jsonEscape escapes s the way zap's JSON encoder does inside a string.
func jsonEscape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\', '"':
			b.WriteByte('\\')
			b.WriteByte(c)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		default:
			if c < 0x20 {
				fmt.Fprintf(&b, `\u%04x`, c)
			} else {
				b.WriteByte(c)
			}
		}
	}
	return b.String()
}

func (r *Redactor) knownLocked(s string) bool {
	for _, k := range r.secrets {
		if string(k) == s {
			return true
		}
	}
	return false
}

// Redact returns s with every registered secret replaced by Mask.
func (r *Redactor) Redact(s string) string { return string(r.redact([]byte(s))) }

func (r *Redactor) redact(p []byte) []byte {
	r.mu.RLock()
	defer r.mu.RUnlock()
	for _, s := range r.secrets {
		if bytes.Contains(p, s) {
			p = bytes.ReplaceAll(p, s, []byte(Mask))
		}
	}
	return p
}

// Writer wraps w so that every Write is scrubbed before it reaches w.
func (r *Redactor) Writer(w io.Writer) io.Writer { return &redactingWriter{r: r, w: w} }

type redactingWriter struct {
	r *Redactor
	w io.Writer
}

func (rw *redactingWriter) Write(p []byte) (int, error) {
	if _, err := rw.w.Write(rw.r.redact(p)); err != nil {
		return 0, err
	}
	return len(p), nil
}

// Sync flushes the underlying writer when it can be flushed.
func (rw *redactingWriter) Sync() error {
	if s, ok := rw.w.(interface{ Sync() error }); ok {
		_ = s.Sync() // stderr/stdout may not support fsync; nothing to report
	}
	return nil
}
