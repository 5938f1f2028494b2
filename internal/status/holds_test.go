package status

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/deployment-automator/automator/internal/config"
	"github.com/deployment-automator/automator/internal/gitops"
	"github.com/deployment-automator/automator/internal/holds"
	"github.com/deployment-automator/automator/internal/promote"
)

// fakeHolds is a hand-written HoldReader: fixed holds per environment and
// fixed "since" times per environment/service.
type fakeHolds struct {
	held  map[string][]holds.Hold
	since map[string]time.Time // env/service → since
	fail  map[string]error
	asked []string // env/service → repository asked of Since
}

func (f *fakeHolds) Held(_ context.Context, env config.Environment, _ map[string]string) ([]holds.Hold, error) {
	if err := f.fail[env.Name]; err != nil {
		return nil, err
	}
	return f.held[env.Name], nil
}

func (f *fakeHolds) Since(_ context.Context, env config.Environment, service, repository string) (time.Time, bool, error) {
	f.asked = append(f.asked, env.Name+"/"+service+"="+repository)
	s, ok := f.since[env.Name+"/"+service]
	return s, ok, nil
}

func holdTargets(t *testing.T) []*promote.Target {
	t.Helper()
	ts, err := promote.Resolve(&config.Config{Environments: []config.Environment{
		{Name: "dev", Repo: "acme/m"},
		// Frozen from Friday 18:00 UTC for 63h; t0 is Friday 12:00.
		{Name: "staging", Repo: "acme/m", PromoteFrom: "dev", Soak: "24h",
			Freeze: []config.FreezeWindow{{Start: "0 18 * * 5", Duration: "63h", Reason: "weekend"}}},
		{Name: "prod", Repo: "acme/m", PromoteFrom: "staging", Registry: "prod.example/r",
			Freeze: []config.FreezeWindow{{Start: "0 6 * * 5", Duration: "8h"}}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	return ts
}

func TestHoldsAnnotator(t *testing.T) {
	at := t0.Add(-2 * time.Hour)
	mona := holds.Hold{Environment: "dev", Service: "cart", By: "mona", At: at, Reason: "incident 42"}
	revert := holds.Hold{Environment: "dev", Service: "web", Reverted: "abc", Reason: "pins 1.2.0, a revert of 1.3.0"}
	whole := holds.Hold{Environment: "staging", By: "sre", Reason: "migration"}
	tests := []struct {
		name  string
		now   time.Time
		rows  []Row
		f     *fakeHolds
		want  map[string]string // env/service → Hold ("" for none)
		err   string
		asked string
	}{
		{
			name: "service hold and revert",
			rows: []Row{{Env: "dev", Service: "cart"}, {Env: "dev", Service: "web"}, {Env: "dev", Service: "api"}},
			f:    &fakeHolds{held: map[string][]holds.Hold{"dev": {mona, revert}}},
			want: map[string]string{"dev/cart": "held by mona on 2026-11-20T10:00:00Z: incident 42", "dev/web": revert.Reason, "dev/api": ""},
		},
		{
			name: "whole environment hold covers every row",
			now:  t0.Add(-24 * time.Hour),
			rows: []Row{{Env: "staging", Service: "cart"}, {Env: "staging", Service: "web"}},
			f:    &fakeHolds{held: map[string][]holds.Hold{"staging": {whole}}},
			want: map[string]string{"staging/cart": "held by sre: migration", "staging/web": "held by sre: migration"},
		},
		{
			name: "freeze window in force",
			now:  t0.Add(7 * time.Hour), // Friday 19:00
			rows: []Row{{Env: "staging", Service: "cart"}, {Env: "prod", Service: "cart"}},
			f:    &fakeHolds{},
			want: map[string]string{"staging/cart": "frozen until 2026-11-23T09:00:00Z: weekend", "prod/cart": ""},
		},
		{
			name: "freeze window without reason",
			rows: []Row{{Env: "prod", Service: "cart"}},
			f:    &fakeHolds{},
			want: map[string]string{"prod/cart": "frozen until 2026-11-20T14:00:00Z"},
		},
		{
			name:  "soaking drifted row",
			now:   t0.Add(-24 * time.Hour),
			rows:  []Row{{Env: "staging", Service: "cart", Drift: true, Upstream: "dev"}, {Env: "staging", Service: "web"}},
			f:     &fakeHolds{since: map[string]time.Time{"dev/cart": t0.Add(-30 * time.Hour)}},
			want:  map[string]string{"staging/cart": "soaking until 2026-11-20T06:00:00Z (dev runs it since 2026-11-19T06:00:00Z; soak 24h0m0s)", "staging/web": ""},
			asked: "dev/cart=r/cart",
		},
		{
			name: "soaked long enough",
			now:  t0.Add(-24 * time.Hour),
			rows: []Row{{Env: "staging", Service: "cart", Drift: true}},
			f:    &fakeHolds{since: map[string]time.Time{"dev/cart": t0.Add(-49 * time.Hour)}},
			want: map[string]string{"staging/cart": ""},
		},
		{
			name: "upstream history too short",
			now:  t0.Add(-24 * time.Hour),
			rows: []Row{{Env: "staging", Service: "cart", Drift: true}},
			f:    &fakeHolds{},
			want: map[string]string{"staging/cart": "soaking: dev has not run it for 24h0m0s yet"},
		},
		{
			name: "hold, freeze and soak together",
			now:  t0.Add(7 * time.Hour),
			rows: []Row{{Env: "staging", Service: "cart", Drift: true}},
			f:    &fakeHolds{held: map[string][]holds.Hold{"staging": {whole}}, since: map[string]time.Time{"dev/cart": t0}},
			want: map[string]string{"staging/cart": "held by sre: migration; frozen until 2026-11-23T09:00:00Z: weekend; soaking until 2026-11-21T12:00:00Z (dev runs it since 2026-11-20T12:00:00Z; soak 24h0m0s)"},
		},
		{
			name: "an unreadable holds file names its environment, others still annotated",
			rows: []Row{{Env: "dev", Service: "cart"}, {Env: "prod", Service: "cart"}},
			f:    &fakeHolds{fail: map[string]error{"dev": errors.New("parsing holds: bad")}},
			want: map[string]string{"dev/cart": "", "prod/cart": "frozen until 2026-11-20T14:00:00Z"},
			err:  `environment "dev": hold state: parsing holds: bad`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			now := tt.now
			if now.IsZero() {
				now = t0
			}
			m := &Matrix{Generated: now, Rows: tt.rows}
			err := NewHolds(tt.f, holdTargets(t), map[string]string{"cart": "r/cart", "web": "r/web", "api": "r/api"}).Annotate(context.Background(), m)
			if (err == nil) != (tt.err == "") || (err != nil && err.Error() != tt.err) {
				t.Fatalf("err = %v, want %q", err, tt.err)
			}
			for _, r := range m.Rows {
				if w := tt.want[r.Env+"/"+r.Service]; r.Hold != w {
					t.Errorf("%s/%s hold = %q, want %q", r.Env, r.Service, r.Hold, w)
				}
			}
			if tt.asked != "" && strings.Join(tt.f.asked, " ") != tt.asked {
				t.Errorf("Since asked %v, want %s", tt.f.asked, tt.asked)
			}
		})
	}
}

// TestHoldColumnInEveryFormat reads a matrix through Read with the hold
// annotator and checks every format shows the state; JSON carries it in
// the row's "hold" field.
func TestHoldColumnInEveryFormat(t *testing.T) {
	r := fakeReader{images: map[string][]gitops.Image{"dev": {{Service: "cart", Repository: "r/cart", Digest: dg('a')}, {Service: "web", Repository: "r/web", Digest: dg('b')}}}}
	f := &fakeHolds{held: map[string][]holds.Hold{"dev": {{Environment: "dev", Service: "cart", By: "mona", Reason: "incident <42>"}}}}
	ts := holdTargets(t)[:1]
	images := map[string]string{"cart": "r/cart", "web": "r/web"}
	m, err := Read(context.Background(), r, ts, images, WithClock(func() time.Time { return t0 }), WithAnnotators(NewHolds(f, ts, images)))
	if err != nil || len(m.Problems) != 0 {
		t.Fatalf("read: %v %+v", err, m.Problems)
	}
	want := map[Format][]string{
		Table:    {"HOLD", "held by mona: incident <42>"},
		JSON:     {`"hold": "held by mona: incident \u003c42\u003e"`},
		Markdown: {"| HOLD |", "held by mona: incident &lt;42&gt;"},
		HTML:     {"<th scope=\"col\">HOLD</th>", `<td class="hold">held by mona: incident &lt;42&gt;</td>`},
	}
	for _, format := range Formats {
		var b bytes.Buffer
		if err := Render(&b, m, format); err != nil {
			t.Fatal(err)
		}
		for _, w := range want[format] {
			if !strings.Contains(b.String(), w) {
				t.Errorf("%s lacks %q:\n%s", format, w, b.String())
			}
		}
	}
	if md := RenderMarkdown(m); strings.Count(strings.Split(md, "\n")[2], "|") != len(header)+2 {
		t.Errorf("Markdown header row has the wrong column count:\n%s", md)
	}
}
