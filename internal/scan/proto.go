package scan

import (
	"encoding/json"
	"errors"
	"time"

	"github.com/deployment-automator/automator/internal/config"
	"github.com/deployment-automator/automator/internal/gate"
)

// The protocol between automator (Process) and automator-scan (Serve): one
// JSON object per line in each direction. automator sends requests on the
// scanner's stdin; the scanner answers each with a response of the same ID
// on its stdout, in any order, and interleaves log records (ID 0). The
// first request is a hello carrying the scan settings; the scanner opens its
// vulnerability DB before answering it. Requests after it run concurrently.
// The scanner exits when its stdin ends.
//
// protocolVersion changes with any incompatible change of these messages; a
// scanner of another protocol refuses the hello.
const protocolVersion = 1

// Operations.
const (
	opHello   = "hello"   // hello → helloResult
	opScan    = "scan"    // image → report
	opSBOM    = "sbom"    // image → sbom
	opRefresh = "refresh" // → db
	opCancel  = "cancel"  // cancels request Cancel; no response
)

type request struct {
	ID uint64 `json:"id"`
	Op string `json:"op"`
	// Deadline is the caller's context deadline, if any.
	Deadline time.Time `json:"deadline,omitzero"`
	Hello    *hello    `json:"hello,omitempty"`
	Image    *imageRef `json:"image,omitempty"`
	Cancel   uint64    `json:"cancel,omitempty"`
}

type hello struct {
	Protocol int `json:"protocol"`
	// Version is the caller's build (main.version); see checkVersions.
	Version  string      `json:"version"`
	Settings config.Scan `json:"settings"`
	// Debug asks for the scanner's debug logs too.
	Debug bool `json:"debug,omitempty"`
}

// imageRef names an image twice: Ref as reports show it, Source where the
// scanner reads it (the caller's loopback registry, by digest).
type imageRef struct {
	Ref    string `json:"ref"`
	Source string `json:"source"`
}

type response struct {
	ID     uint64       `json:"id"`
	Error  *wireError   `json:"error,omitempty"`
	Hello  *helloResult `json:"hello,omitempty"`
	DB     *gate.DBInfo `json:"db,omitempty"`
	Report *gate.Report `json:"report,omitempty"`
	SBOM   []byte       `json:"sbom,omitempty"`
	Log    *logRecord   `json:"log,omitempty"`
}

type helloResult struct {
	Protocol int    `json:"protocol"`
	Version  string `json:"version"`
	// Scanner names the engine, e.g. "trivy v0.74.0".
	Scanner string      `json:"scanner"`
	DB      gate.DBInfo `json:"db"`
}

type logRecord struct {
	Level   string         `json:"level"`
	Message string         `json:"msg"`
	Fields  map[string]any `json:"fields,omitempty"`
}

// wireError carries an error across; a *DBError keeps its type, so callers
// on the automator side still branch on it.
type wireError struct {
	Message string       `json:"message"`
	DB      *wireDBError `json:"db,omitempty"`
}

type wireDBError struct {
	Problem  string       `json:"problem"`
	CacheDir string       `json:"cacheDir"`
	Hint     string       `json:"hint,omitempty"`
	Mirrors  []wireMirror `json:"mirrors,omitempty"`
}

type wireMirror struct {
	Repository string `json:"repository"`
	Error      string `json:"error"`
}

func toWire(err error) *wireError {
	if err == nil {
		return nil
	}
	w := &wireError{Message: err.Error()}
	var dbe *DBError
	if errors.As(err, &dbe) {
		w.DB = &wireDBError{Problem: dbe.Problem, CacheDir: dbe.CacheDir, Hint: dbe.Hint}
		for _, m := range dbe.Mirrors {
			msg := ""
			if m.Err != nil {
				msg = m.Err.Error()
			}
			w.DB.Mirrors = append(w.DB.Mirrors, wireMirror{Repository: m.Repository, Error: msg})
		}
	}
	return w
}

// err rebuilds the error: a *DBError when it was one (its Error text is the
// same), else an error with the scanner's message.
func (w *wireError) err() error {
	if w.DB == nil {
		return errors.New(w.Message)
	}
	e := &DBError{Problem: w.DB.Problem, CacheDir: w.DB.CacheDir, Hint: w.DB.Hint}
	for _, m := range w.DB.Mirrors {
		e.Mirrors = append(e.Mirrors, MirrorError{Repository: m.Repository, Err: errors.New(m.Error)})
	}
	if e.Error() != w.Message {
		// Wrapped on the scanner's side: keep its words and the type.
		return &wrappedDBError{msg: w.Message, db: e}
	}
	return e
}

type wrappedDBError struct {
	msg string
	db  *DBError
}

func (e *wrappedDBError) Error() string { return e.msg }
func (e *wrappedDBError) Unwrap() error { return e.db }

// encodeLine is one message of the protocol.
func encodeLine(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}
