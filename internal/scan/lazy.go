package scan

import (
	"context"
	"sync"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/deployment-automator/automator/internal/gate"
)

// Lazy is a scanner Process started on first use, so that a command which
// wires a gate but never scans (a run whose plan selects nothing, a ChatOps
// command other than promote) starts no scanner. A failed start is not
// remembered: the next use tries again (a watcher whose DB appears later).
type Lazy struct {
	start func(context.Context) (*Process, error)

	mu sync.Mutex
	p  *Process
}

var (
	_ Scanner     = (*Lazy)(nil)
	_ DBRefresher = (*Lazy)(nil)
)

// NewLazy returns a Lazy that starts its Process with start.
func NewLazy(start func(context.Context) (*Process, error)) *Lazy { return &Lazy{start: start} }

func (l *Lazy) get(ctx context.Context) (*Process, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.p == nil {
		p, err := l.start(ctx)
		if err != nil {
			return nil, err
		}
		l.p = p
	}
	return l.p, nil
}

// Scan starts the scanner if needed and scans img.
func (l *Lazy) Scan(ctx context.Context, ref string, img v1.Image) (*gate.Report, error) {
	p, err := l.get(ctx)
	if err != nil {
		return nil, err
	}
	return p.Scan(ctx, ref, img)
}

// SBOM starts the scanner if needed and lists img's packages.
func (l *Lazy) SBOM(ctx context.Context, ref string, img v1.Image) ([]byte, error) {
	p, err := l.get(ctx)
	if err != nil {
		return nil, err
	}
	return p.SBOM(ctx, ref, img)
}

// RefreshDB starts the scanner if needed (opening its DB) and refreshes it.
func (l *Lazy) RefreshDB(ctx context.Context) error {
	p, err := l.get(ctx)
	if err != nil {
		return err
	}
	return p.RefreshDB(ctx)
}

// DB is the started scanner's DB; the zero DBInfo before the first start
// (Refreshing starts it before any scan asks).
func (l *Lazy) DB() gate.DBInfo {
	l.mu.Lock()
	p := l.p
	l.mu.Unlock()
	if p == nil {
		return gate.DBInfo{}
	}
	return p.DB()
}
