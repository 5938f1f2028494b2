package chatops

import (
	"context"

	"github.com/deployment-automator/automator/internal/gitops"
	"github.com/deployment-automator/automator/internal/holds"
	"github.com/deployment-automator/automator/internal/promote"
	"github.com/deployment-automator/automator/internal/status"
)

// Promoter is Work over internal/promote and internal/status.
type Promoter struct {
	Promoter *promote.Promoter
	// Matrix reads what runs where (status.Read over the configured targets).
	Matrix func(ctx context.Context) (*status.Matrix, error)
}

var _ Work = Promoter{}

// Promote implements Work.
func (p Promoter) Promote(ctx context.Context, t *promote.Target, services []string) (*gitops.Result, error) {
	return p.Promoter.PromoteServices(ctx, t, services)
}

// Rollback implements Work.
func (p Promoter) Rollback(ctx context.Context, t *promote.Target, to, by, reason string) (*gitops.Result, error) {
	return p.Promoter.Rollback(ctx, t, to, by, reason)
}

// Status implements Work.
func (p Promoter) Status(ctx context.Context) (string, error) {
	m, err := p.Matrix(ctx)
	if m == nil {
		return "", err
	}
	return status.RenderMarkdown(m), nil
}

// Hold implements Work.
func (p Promoter) Hold(ctx context.Context, t *promote.Target, service, by, reason string) (*gitops.Result, error) {
	return p.Promoter.Hold(ctx, t, holds.Hold{Service: service, By: by, Reason: reason})
}

// Release implements Work.
func (p Promoter) Release(ctx context.Context, t *promote.Target, service, by, reason string) (*gitops.Result, error) {
	return p.Promoter.Release(ctx, t, service, by, reason)
}
