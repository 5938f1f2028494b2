package watch

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	matrix "github.com/deployment-automator/automator/internal/status"
)

func TestStatusBoard(t *testing.T) {
	now := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
	reads := 0
	var fail error
	read := func(context.Context) (*matrix.Matrix, error) {
		reads++
		if fail != nil {
			return nil, fail
		}
		return &matrix.Matrix{Generated: now, Envs: []string{"prod"}, Rows: []matrix.Row{{Env: "prod", Service: "cart", Tag: "1.2",
			Digest: "sha256:" + strings.Repeat("a", 64), How: matrix.HowRun, Since: &matrix.Pin{Commit: "abc", When: now.Add(-90 * time.Second)}}}}, nil
	}
	b := NewStatusBoard(read, time.Minute, nil)
	b.now = func() time.Time { return now }
	reg := prometheus.NewRegistry()
	reg.MustRegister(b)
	if n, _ := testutil.GatherAndCount(reg); n != 0 {
		t.Errorf("a scrape before any read exported %d series (scrapes must not read)", n)
	}
	if reads != 0 {
		t.Fatalf("scrape read the matrix %d times", reads)
	}

	srv := httptest.NewServer(withStatus(OpsHandler(func() bool { return true }, prometheus.NewRegistry()), b))
	defer srv.Close()
	for range 3 {
		resp, err := http.Get(srv.URL + "/status")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(body), `<table id="status-matrix">`) || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
			t.Fatalf("GET /status = %d %s\n%s", resp.StatusCode, resp.Header, body)
		}
	}
	if reads != 1 {
		t.Errorf("3 page views within the TTL read %d times, want 1", reads)
	}
	want := `
# HELP automator_watch_deployed_age_seconds Seconds since the commit that pinned each environment's image for each service.
# TYPE automator_watch_deployed_age_seconds gauge
automator_watch_deployed_age_seconds{environment="prod",service="cart"} 90
# HELP automator_watch_deployed_info The image each environment's manifests pin for each service (always 1).
# TYPE automator_watch_deployed_info gauge
automator_watch_deployed_info{digest="sha256:` + strings.Repeat("a", 64) + `",environment="prod",service="cart",tag="1.2"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want)); err != nil {
		t.Error(err)
	}

	// Past the TTL a failed read keeps serving the last matrix.
	now = now.Add(2 * time.Minute)
	fail = errors.New("github down")
	if m, err := b.Matrix(context.Background()); err != nil || m == nil || reads != 2 {
		t.Errorf("after a failed refresh: %v %v (reads %d)", m, err, reads)
	}
}
