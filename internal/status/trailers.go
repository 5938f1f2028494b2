package status

import (
	"strings"

	"github.com/deployment-automator/automator/internal/gitops"
)

// pinned is one service a commit of automator's pinned, from its trailers
// (see gitops' commitMessage): Automator-Service opens a service's group,
// Automator-Digest, -Scan and -Promoted-From belong to the last one, and
// Automator-Rollback-To applies to the whole commit.
type pinned struct {
	commit       gitops.Commit
	service      string
	digest       string
	scan         string
	promotedFrom string
	rollbackTo   string
	// line is the commit message's "- service: REF (scan: …)" line, the
	// record of commits made before the Automator-Scan trailer existed.
	line string
}

// trailerPrefix starts every trailer automator writes.
const trailerPrefix = "Automator-"

// isAutomator reports whether automator wrote c: it carries the
// Automator-Environment trailer (as holds reads it, through Commit.Trailer).
func isAutomator(c gitops.Commit) bool {
	return len(c.Trailer(trailerPrefix+"Environment")) > 0
}

// parseTrailers returns the services c pinned; none for a commit automator
// did not write. Parsed by hand: the trailers are automator's own, one per
// line, and git interpret-trailers would need a process per commit.
func parseTrailers(c gitops.Commit) []pinned {
	if !isAutomator(c) {
		return nil
	}
	var out []pinned
	var rollback string
	for _, l := range strings.Split(c.Message, "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(l), ": ")
		if !ok || !strings.HasPrefix(k, trailerPrefix) {
			continue
		}
		last := len(out) - 1
		switch strings.TrimPrefix(k, trailerPrefix) {
		case "Service":
			out = append(out, pinned{commit: c, service: v})
		case "Digest":
			if last >= 0 {
				out[last].digest = v
			}
		case "Scan":
			if last >= 0 {
				out[last].scan = v
			}
		case "Promoted-From":
			if last >= 0 {
				out[last].promotedFrom = v
			}
		case "Rollback-To":
			rollback = v
		}
	}
	for i := range out {
		out[i].rollbackTo = rollback
		out[i].line = serviceLine(c.Message, out[i].service)
		if out[i].scan == "" {
			out[i].scan = lineVerdict(out[i].line)
		}
	}
	return out
}

// serviceLine is the "- service: REF (scan: …)" line of a commit message.
func serviceLine(msg, service string) string {
	for _, l := range strings.Split(msg, "\n") {
		if strings.HasPrefix(l, "- "+service+": ") {
			return l
		}
	}
	return ""
}

// lineVerdict reads the verdict word of a service line's "(scan: …)".
func lineVerdict(line string) string {
	_, rest, ok := strings.Cut(line, "(scan: ")
	if !ok {
		return ""
	}
	for _, v := range []string{"pass", "warn", "fail", "skipped"} {
		if strings.Contains(rest, v) {
			return v
		}
	}
	return ""
}

// findPin is the newest pin of service to exactly this value: the digest
// when the manifests pin one, else the tag as the service line shows it.
func findPin(pins []pinned, service, tag, digest string) (pinned, bool) {
	for _, p := range pins {
		if p.service != service {
			continue
		}
		if digest != "" && p.digest == digest {
			return p, true
		}
		if digest == "" && tag != "" && strings.Contains(p.line, ":"+tag+" ") {
			return p, true
		}
	}
	return pinned{}, false
}
