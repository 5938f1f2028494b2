package gitops

import (
	"fmt"
	"strings"
	"testing"

	"github.com/deployment-automator/automator/internal/config"
)

// manyServices returns one values file pinning n services (the layout of a
// monorepo's environment file), the request configuring them, and updates
// for every service.
func manyServices(n int) (Request, []file, []Update) {
	var values strings.Builder
	req := Request{Env: config.Environment{Name: "staging", Files: []string{"values.yaml"}}, Services: map[string]string{}}
	var updates []Update
	for i := range n {
		svc, repo := fmt.Sprintf("svc%04d", i), fmt.Sprintf("ghcr.io/acme/svc%04d", i)
		fmt.Fprintf(&values, "%s:\n  image:\n    repository: %s\n    tag: \"1.0.0\"\n    digest: %s\n", svc, repo, digest(fmt.Sprintf("%x", i%16)))
		req.Services[svc] = repo
		updates = append(updates, Update{Service: svc, Repository: repo, Tag: "1.1.0", Digest: digest(fmt.Sprintf("%x", (i+1)%16))})
	}
	return req, []file{{Path: "values.yaml", Mode: "100644", Content: []byte(values.String())}}, updates
}

// BenchmarkRewriteFilesManyServices rewrites one values file pinning 100,
// 500 and 2,000 services with an update for every one of them: the
// write-back's share of promoting a whole monorepo at once. Time and
// allocations should grow about linearly with the services.
func BenchmarkRewriteFilesManyServices(b *testing.B) {
	for _, n := range []int{100, 500, 2000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			req, files, updates := manyServices(n)
			b.ReportAllocs()
			for b.Loop() {
				eds, err := rewriteFiles(req, files, updates)
				if err != nil {
					b.Fatal(err)
				}
				if len(eds) != 1 || len(eds[0].Changes) != 2*n {
					b.Fatalf("%d files, want 1 with %d changes", len(eds), 2*n)
				}
			}
		})
	}
}
