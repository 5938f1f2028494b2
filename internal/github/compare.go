package github

import (
	"context"

	gh "github.com/google/go-github/v60/github"
)

// CompareCommits calls the compare API for owner/repo through the client
// Client returns for that repository, so planning in a clone without history
// gets the same retries, rate-limit handling and App authentication as the
// write-back. It satisfies detect.Comparer.
func (f *Factory) CompareCommits(ctx context.Context, owner, repo, base, head string, opts *gh.ListOptions) (*gh.CommitsComparison, *gh.Response, error) {
	c, err := f.Client(ctx, owner, repo)
	if err != nil {
		return nil, nil, err
	}
	return c.Repositories.CompareCommits(ctx, owner, repo, base, head, opts)
}
