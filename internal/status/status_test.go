package status

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/deployment-automator/automator/internal/config"
	"github.com/deployment-automator/automator/internal/gitops"
	"github.com/deployment-automator/automator/internal/promote"
)

// fakeReader is a hand-written Reader over fixed per-environment answers.
type fakeReader struct {
	images map[string][]gitops.Image
	log    map[string][]gitops.Commit
	prs    map[string][]gitops.Proposal
	fail   map[string]error
}

func (f fakeReader) Current(_ context.Context, env config.Environment, at string, _ map[string]string) ([]gitops.Image, error) {
	if at != "" {
		return nil, errors.New("status reads heads only")
	}
	if err := f.fail[env.Name]; err != nil {
		return nil, err
	}
	return f.images[env.Name], nil
}

func (f fakeReader) Changes(_ context.Context, env config.Environment, _ int) ([]gitops.Commit, error) {
	return f.log[env.Name], nil
}

func (f fakeReader) Proposals(_ context.Context, env config.Environment) ([]gitops.Proposal, error) {
	return f.prs[env.Name], nil
}

var t0 = time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)

func dg(c byte) string { return "sha256:" + strings.Repeat(string(c), 64) }

// msg is a commit message as gitops writes it, trailers and all.
func msg(env string, trailers ...string) string {
	return "Promote x to " + env + "\n\n- cart: r/cart:1 (scan: ✅ pass)\n\n" + strings.Join(trailers, "\n") + "\nAutomator-Environment: " + env + "\n"
}

func targets(t *testing.T) []*promote.Target {
	t.Helper()
	ts, err := promote.Resolve(&config.Config{Environments: []config.Environment{
		{Name: "dev", Repo: "acme/m"}, {Name: "staging", Repo: "acme/m", PromoteFrom: "dev"}, {Name: "prod", Repo: "acme/m", PromoteFrom: "staging"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	return ts
}

func TestRead(t *testing.T) {
	img := func(d string) []gitops.Image {
		return []gitops.Image{{Service: "cart", Repository: "r/cart", Tag: "1", Digest: d, File: "v.yaml", Line: 3}}
	}
	r := fakeReader{
		images: map[string][]gitops.Image{"dev": img(dg('c')), "staging": img(dg('b')), "prod": img(dg('a'))},
		log: map[string][]gitops.Commit{
			"dev": {
				{SHA: "d3", When: t0.Add(-time.Hour), Message: msg("dev", "Automator-Service: cart", "Automator-Digest: "+dg('c'), "Automator-Scan: warn")},
				{SHA: "d2", When: t0.Add(-2 * time.Hour), Message: msg("dev", "Automator-Service: cart", "Automator-Digest: "+dg('b'))},
			},
			"staging": {
				{SHA: "s9", When: t0.Add(-30 * time.Minute), Message: "tidy comments\n"},
				{SHA: "s2", When: t0.Add(-90 * time.Minute), Message: msg("staging", "Automator-Service: cart", "Automator-Digest: "+dg('b'), "Automator-Promoted-From: dev")},
				{SHA: "s1", When: t0.Add(-5 * time.Hour), Message: msg("staging", "Automator-Service: cart", "Automator-Digest: "+dg('a'), "Automator-Promoted-From: dev")},
			},
			"prod": {
				{SHA: "p1", When: t0.Add(-72 * time.Hour), Author: "mona", Message: "seed\n"},
			},
		},
		prs: map[string][]gitops.Proposal{"prod": {{Number: 7, URL: "https://gh/acme/m/pull/7", Branch: "automator/prod", Opened: t0.Add(-3 * time.Hour)}}},
	}
	m, err := Read(context.Background(), r, targets(t), map[string]string{"cart": "r/cart"}, WithClock(func() time.Time { return t0 }))
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		env, since, from, scan string
		how                    How
		drift                  bool
		behind                 int
		atLeast                bool
	}{
		{env: "dev", since: "d3", how: HowRun, scan: "warn"},
		// The scan verdict of a commit without the Automator-Scan trailer is
		// read from its service line.
		{env: "staging", since: "s2", how: HowPromotion, from: "dev", scan: "pass", drift: true, behind: 1},
		{env: "prod", since: "p1", how: HowHuman, drift: true, behind: 1},
	}
	if len(m.Rows) != len(want) {
		t.Fatalf("rows = %+v", m.Rows)
	}
	for i, w := range want {
		g := m.Rows[i]
		if g.Env != w.env || g.Since == nil || g.Since.Commit != w.since || g.How != w.how || g.From != w.from || g.Scan != w.scan ||
			g.Drift != w.drift || g.Behind != w.behind || g.BehindAtLeast != w.atLeast {
			t.Errorf("row %d = %+v (since %+v), want %+v", i, g, g.Since, w)
		}
	}
	if p := m.Rows[2].PR; p == nil || p.Number != 7 {
		t.Errorf("prod PR = %+v", p)
	}
	if a := m.Rows[2].Age(m.Generated); a != 72*time.Hour {
		t.Errorf("prod age = %v", a)
	}
}

func TestReadRollbackAndProblems(t *testing.T) {
	r := fakeReader{
		images: map[string][]gitops.Image{"dev": {{Service: "cart", Repository: "r/cart", Digest: dg('a')}}},
		log:    map[string][]gitops.Commit{"dev": {{SHA: "d9", Message: msg("dev", "Automator-Service: cart", "Automator-Digest: "+dg('a'), "Automator-Rollback-To: abc123")}}},
		fail:   map[string]error{"staging": errors.New("boom"), "prod": errors.New("bang")},
	}
	m, err := Read(context.Background(), r, targets(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Rows) != 1 || m.Rows[0].How != HowRollback || m.Rows[0].From != "abc123" {
		t.Errorf("rows = %+v", m.Rows)
	}
	if len(m.Problems) != 2 || m.Err() == nil {
		t.Errorf("problems = %+v", m.Problems)
	}
	r.fail["dev"] = errors.New("down")
	if _, err := Read(context.Background(), r, targets(t), nil); err == nil {
		t.Error("every environment failing is an error")
	}
}

type holdAnnotator struct{}

func (holdAnnotator) Annotate(_ context.Context, m *Matrix) error {
	m.Rows[0].Hold = "held by mona"
	return nil
}

// hostile is a row whose every value tries to break out of its format.
func hostile() *Matrix {
	bad := `<script>alert(1)</script>|**x**`
	return &Matrix{Generated: t0, Envs: []string{"dev"}, Rows: []Row{{
		Env: "dev", Service: bad, Repository: "r", Tag: bad, Digest: dg('a'), How: HowHuman,
		Since: &Pin{Commit: "abcdef0123", URL: "javascript:alert(1)", When: t0.Add(-time.Hour)},
		PR:    &PR{Number: 3, URL: "https://gh/pull/3) [x](https://evil", Opened: t0.Add(-2 * time.Hour)},
	}}}
}

func TestRenderEscapes(t *testing.T) {
	var h bytes.Buffer
	if err := Render(&h, hostile(), HTML); err != nil {
		t.Fatal(err)
	}
	page := h.String()
	if strings.Contains(page, "<script>") || strings.Contains(page, "javascript:") {
		t.Errorf("HTML is not escaped:\n%s", page)
	}
	for _, want := range []string{`<table id="status-matrix">`, "&lt;script&gt;", "<style>"} {
		if !strings.Contains(page, want) {
			t.Errorf("HTML lacks %q", want)
		}
	}
	if strings.Contains(page, "src=") || strings.Contains(page, "<link") || strings.Contains(page, "<script") {
		t.Errorf("HTML references an external asset or script:\n%s", page)
	}
	md := RenderMarkdown(hostile())
	for _, line := range strings.Split(md, "\n") {
		if strings.HasPrefix(line, "| dev") && strings.Count(strings.ReplaceAll(line, `\|`, ""), "|") != len(header)+1 {
			t.Errorf("a value broke the Markdown table: %s", line)
		}
	}
	if strings.Contains(md, "<script>") || strings.Contains(md, "[x](https://evil") || strings.Contains(md, "javascript:") {
		t.Errorf("Markdown is not escaped:\n%s", md)
	}
}

func TestRenderFormats(t *testing.T) {
	m := hostile()
	m.Rows[0].Service, m.Rows[0].Tag = "cart", "1.2"
	for _, f := range Formats {
		var b bytes.Buffer
		if err := Render(&b, m, f); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if !strings.Contains(b.String(), "cart") || !strings.Contains(b.String(), "sha256:aaaaaaaaaaaa") {
			t.Errorf("%s lacks the row:\n%s", f, b.String())
		}
		if strings.Contains(b.String(), "HOLD") || strings.Contains(b.String(), `"hold"`) {
			t.Errorf("%s shows a hold column without holds", f)
		}
	}
	var j bytes.Buffer
	_ = Render(&j, m, JSON)
	var back Matrix
	if err := json.Unmarshal(j.Bytes(), &back); err != nil || back.Rows[0].Digest != dg('a') {
		t.Errorf("JSON round trip: %v %+v", err, back)
	}
	if _, err := ParseFormat("yaml"); err == nil {
		t.Error("unknown format accepted")
	}
}

func TestAnnotatorFillsHoldColumn(t *testing.T) {
	r := fakeReader{images: map[string][]gitops.Image{"dev": {{Service: "cart", Digest: dg('a')}}}}
	m, err := Read(context.Background(), r, targets(t)[:1], nil, WithAnnotators(holdAnnotator{}))
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	_ = Render(&b, m, Table)
	if !strings.Contains(b.String(), "HOLD") || !strings.Contains(b.String(), "held by mona") {
		t.Errorf("table lacks the hold column:\n%s", b.String())
	}
}

func FuzzParseTrailers(f *testing.F) {
	f.Add(msg("dev", "Automator-Service: cart", "Automator-Digest: "+dg('a'), "Automator-Scan: pass"))
	f.Add("Automator-Digest: x\nAutomator-Environment: dev")
	f.Fuzz(func(t *testing.T, s string) {
		for _, p := range parseTrailers(gitops.Commit{Message: s}) {
			if p.service == "" && !strings.Contains(s, "Automator-Service: ") {
				t.Errorf("pin %+v from a message naming no service", p)
			}
		}
	})
}

func TestRenderTo(t *testing.T) {
	dir := t.TempDir()
	path := dir + "/status.html"
	if err := RenderTo(nil, path, hostile(), HTML); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(path); err != nil || !strings.Contains(string(b), `<table id="status-matrix">`) {
		t.Errorf("file: %v\n%s", err, b)
	}
	if err := RenderTo(nil, dir, hostile(), HTML); err == nil || !strings.Contains(err.Error(), dir) {
		t.Errorf("writing to a directory: %v", err)
	}
}
