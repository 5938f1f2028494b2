package gate

import "testing"

func TestBlockedErrorNamesTheBlockingFindings(t *testing.T) {
	many := make([]Finding, 7)
	for i := range many {
		many[i] = Finding{ID: "CVE-" + string(rune('A'+i)), Severity: "HIGH"}
	}
	blocking := func(fs ...Finding) []Verdict { return []Verdict{{Env: "prod", Outcome: Block, Deciding: fs}} }
	for _, tc := range []struct {
		name    string
		blocked []Blocked
		want    string
	}{
		{"no findings recorded", []Blocked{{Service: "cart"}}, `environment "prod": the gate blocked cart`},
		{"findings per service", []Blocked{
			{Service: "cart", Verdicts: blocking(Finding{ID: "CVE-2023-9999", Severity: "CRITICAL"})},
			{Service: "web"},
		}, `environment "prod": the gate blocked cart (CVE-2023-9999 CRITICAL); web`},
		{"capped", []Blocked{{Service: "api", Verdicts: blocking(many...)}},
			`environment "prod": the gate blocked api (CVE-A HIGH, CVE-B HIGH, CVE-C HIGH, CVE-D HIGH, CVE-E HIGH, and 2 more)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := (&BlockedError{Env: "prod", Images: tc.blocked}).Error(); got != tc.want {
				t.Errorf("Error() = %q\nwant      %q", got, tc.want)
			}
		})
	}
}
