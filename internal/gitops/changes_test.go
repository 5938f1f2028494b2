package gitops

import (
	"testing"
	"time"
)

func TestParseChanges(t *testing.T) {
	out := "aaa\x00mona\x002026-11-20T12:00:00Z\x00Promote cart to dev\n\nAutomator-Environment: dev\n\x1e\n" +
		"bbb\x00lisa\x002026-11-19T12:00:00+01:00\x00seed\n\x1e\n"
	cs := parseChanges(out)
	if len(cs) != 2 || cs[0].SHA != "aaa" || cs[0].Author != "mona" || cs[1].Message != "seed\n" ||
		!cs[1].When.Equal(time.Date(2026, 11, 19, 11, 0, 0, 0, time.UTC)) {
		t.Fatalf("parseChanges = %+v", cs)
	}
	if got := newestFirst([]Commit{cs[1], cs[0]}, 1); len(got) != 1 || got[0].SHA != "aaa" {
		t.Errorf("newestFirst = %+v", got)
	}
	if !proposalBranch("prod", "automator/rollback-prod") || proposalBranch("prod", "automator/prod-2") {
		t.Error("proposalBranch")
	}
}
